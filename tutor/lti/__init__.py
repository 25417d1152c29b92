"""LTI 1.3: learners arriving from the platform's LMS (Moodle, Open edX, Canvas) signed in by an OIDC launch."""
