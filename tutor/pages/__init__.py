"""Server-rendered pages: the learner's tutor (/learn) and the researchers' desk (/desk), with cookie sessions."""
