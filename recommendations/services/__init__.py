"""Writes of the recommendations app: the intervention catalogue (`catalogue`), impact estimates (`impact`),
plans and their optimisation (`plans`), and the review workflow (`review`)."""
