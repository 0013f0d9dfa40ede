"""Writes of the feedback app: submissions and triage into label sets (`submission`), retraining with a
champion/challenger decision (`retraining`), A/B experiments of strategies (`experiments`) and the retention of
free text (`retention`)."""
