"""`spacy hamr compare`: which imbalance method wins on the user's own data.

plan.py     arms, seeds and the update budget, every check before the first training, the runs
verdict.py  per-arm scores, paired differences and the recommended arm
report.py   report.md, report.json, the per-seed plot and best.cfg
"""
