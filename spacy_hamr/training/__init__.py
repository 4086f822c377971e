"""What `spacy train` calls: the hamr.v1 batcher and callback, the state they
share, the per-example state file, the epoch statistics, the evaluation log and
the stats logger."""
