"""spacy-hamr: HAMR (hardness-aware meta-resampling) for spaCy's textcat and ner.

Registered through entry points (no `--code` needed):
  @batchers   "hamr.v1"                      spacy_hamr.training.batcher.configure_hamr_batcher
  @callbacks  "hamr.v1"                      spacy_hamr.training.callback.make_hamr_callback
              "hamr.logit_adjustment.v1"     spacy_hamr.logit_adjustment.adjust_on_save.make_logit_adjustment
  @loggers    "hamr.eval_log.v1"             spacy_hamr.training.eval_log.make_eval_log
              "hamr.stats_logger.v1"         spacy_hamr.training.stats_logger.make_stats_logger
  @misc       "hamr.tfidf_embedder.v1", "hamr.sentence_embedder.v1",
              "hamr.npy_embedder.v1", "hamr.doc_vectors_embedder.v1"   spacy_hamr.resampling.embedders
  spacy CLI   `spacy hamr compare | make-meta | convert | variant-config | adjust |
              hard-examples | find-label-errors`   spacy_hamr.cli

The code, by what each part serves:
  training/          what `spacy train` calls: the batcher, the callback, the state they
                     share, the per-example state file, epoch statistics, the evaluation log,
                     the stats logger
  resampling/        the batcher's maths: sampling, hardness, neighbours, embedders
  meta_weighting/    the callback's maths: weighting strategies, weight net, look-ahead,
                     random streams, meta set, class rates, loss adapters
  logit_adjustment/  the adjustment and its on-save callback
  label_errors/      training dynamics, span suspects, the report (ranking, records, HTML
                     page, Prodigy tasks) and the cross-validated audit
  engine/            the experiment engine: many `spacy train` runs here or on a Ray
                     cluster, with a ledger of finished runs (compare, the audit, project/)
  comparison/        `spacy hamr compare`'s plan, verdict and report
  cli/               one module per `spacy hamr` command
  experiments/       for project/ and benchmarks/: dataset conversion, the compared
                     variants, planted errors, the comparison's metrics
  labels, corpus, textcat_output, errors, util, threads, _private_api: what all of them use
"""

from .training.shared_state import HamrState, active_state

__version__ = "0.1.0"
__all__ = ["HamrBatcher", "HamrState", "active_state", "configure_hamr_batcher", "__version__"]

# The batcher imports faiss (its neighbour index). spaCy imports this package
# for every command of its CLI, `spacy info` included, through the `spacy_cli`
# entry point, so the batcher loads only when it is asked for.
_BATCHER_NAMES = ("HamrBatcher", "configure_hamr_batcher")


def __getattr__(name):
    if name in _BATCHER_NAMES:
        from .training import batcher

        return getattr(batcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
