"""Finding label errors: the training-dynamics ranking, NER span suspects, the
report (records, HTML page, Prodigy export) and the cross-validated audit."""
