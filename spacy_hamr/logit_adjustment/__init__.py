"""Logit adjustment of a trained textcat: the adjustment, chosen on dev, and the
`hamr.logit_adjustment.v1` callback that saves every checkpoint adjusted."""
