"""Who a learner is: the audience (officials, students, workers, citizens) that sets their default goal."""
