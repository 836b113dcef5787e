"""rnnlab: the reference implementations, data and graders of the course
"Recurrent neural networks for NLP".

One module per concept:

- ``rnnlab.vocab``   token <-> id vocabulary with ``<unk>``, ``<s>``, ``</s>``
- ``rnnlab.lm``      the language-model interface every model of the course shares
                     (log-probability, perplexity, next-token distribution, sampling)
- ``rnnlab.ngram``   n-gram counting and smoothed n-gram language models (chapter 01)
- ``rnnlab.data``    offline data: the synthetic language with its exact oracle, stdlib
                     corpora, sequence tasks, real-corpus loaders, batching
- ``rnnlab.checks``  the named checks that grade every assignment part
- ``rnnlab.layers``  RNN / LSTM / GRU cells and layers equal to torch.nn: readable reference loop and fused kernels
- ``rnnlab.handwired`` the lecture's summation, comparison and parity RNNs with weights set by hand
- ``rnnlab.sampling`` temperature sampling and generation from a neural language model
- ``rnnlab.bptt``    backpropagation through time by hand, and a finite-difference gradient checker
- ``rnnlab.tbptt``   truncated BPTT written out: carry the state across chunks, detach it
- ``rnnlab.clipping`` gradient clipping by the global norm, written out
- ``rnnlab.embeddings`` one-hot vectors, the embedding lookup as a matrix product, nearest neighbours, 2-D projection
- ``rnnlab.window_lm`` the window LM written out: context windows with <s> padding, forward pass, cross-entropy, training, LanguageModel adapter
- ``rnnlab.models``  the window LM of Bengio et al. 2003, RNNLM, tagger and classifier heads
- ``rnnlab.train``   truncated-BPTT training loop, evaluation perplexity, early stopping, checkpoints
- ``rnnlab.attention`` Bahdanau and Luong attention, the masked softmax, attention scored against a gold alignment
- ``rnnlab.seq2seq`` encoder, bridge and decoder with teacher forcing; training and the seq2seq metrics
- ``rnnlab.decoding`` batched greedy search and beam search with length normalisation
- ``rnnlab.bidirectional`` stacked and bidirectional RNNs over padded batches, written out (chapter 06)
- ``rnnlab.tagging`` sequence tagging and classification: masked loss and accuracy, training, Toy English's baselines and exact ceilings
- ``rnnlab.reproduce`` the course's table of language models on one corpus, by one command (``make reproduce``)
"""

__version__ = "0.1.0"


def device():
    """The best available torch device: ``cuda``, then ``mps``, then ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
