"""What to study next: the recommendation policy, the placement quiz and simulated learners; `/next`, `/placement`, `tutor simulate`."""
