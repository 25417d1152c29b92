"""Knowledge tracing: the service's update equations, the BKT EM and estimator, the next-answer model, the Roster of learners' online state, artefacts and mastery reports."""
