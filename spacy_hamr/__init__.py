"""spacy-hamr: HAMR (hardness-aware meta-resampling) for spaCy's textcat and ner.

Registered through entry points (no `--code` needed):
  @batchers   "hamr.v1"                      spacy_hamr.batcher.configure_hamr_batcher
  @callbacks  "hamr.v1"                      spacy_hamr.callback.make_hamr_callback
  @misc       "hamr.tfidf_embedder.v1", "hamr.sentence_embedder.v1",
              "hamr.npy_embedder.v1", "hamr.doc_vectors_embedder.v1"   spacy_hamr.embedders
  spacy CLI   `spacy hamr make-meta | convert | variant-config | adjust | hard-examples |
              find-label-errors`   spacy_hamr.cli
"""
from .batcher import HamrBatcher, configure_hamr_batcher
from .state import HamrState, active_state

__version__ = "0.1.0"
__all__ = ["HamrBatcher", "HamrState", "active_state", "configure_hamr_batcher", "__version__"]
