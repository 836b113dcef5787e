"""The named checks that grade every assignment part.

A check is declared once, here, and used everywhere: by the visible test cell of the
assignment (``check("01_ngram.perplexity", perplexity)``), by its hidden tests
(``check(..., hidden=True)``, other cases of the same check) and by the autograder, which runs
the same calls in its sandbox and judges their answers outside it. A check knows its cases, its
reference answer, its tolerance, its time limit per case and its points, and when the student's
answer is wrong it says what was expected, what was got and where they first differ.

Chapters register their checks in one module each, ``chNN_slug.py`` for ``NN_slug.*``
(``ch01_ngram`` declares ``01_ngram.count_ngrams``, ...); ``REGISTRY`` imports such a module
the first time one of its checks is looked up, so a new chapter only adds its file.

What every check must have (the tests enforce what they can; reviewers the rest):

1. **Cases where students' real mistakes show**, visible and hidden: a long input where
   numerical stability matters (thousands of tokens for a perplexity, logits in the tens for a
   softmax or a sampler, long sequences for a recurrence); every boundary of every length
   parameter (length 1, empty, the maximum length reached); for a function that takes a seed
   or a generator, ``probe_seeded``/``judge_seeded`` (two seeds differ, one seed repeats, the
   generator given is the one drawn from); for anything differentiable, the gradient as well
   as the value (``probe_gradient``/``judge_gradient``: a detached state or normaliser fails).
   The inputs have the types the notebook documents (a Counter where it says Counter).
2. **Right answers pass, always**: answers are normalised before judging wherever the contract
   allows (str subclasses, numpy scalars, a 0-d tensor for a number); where the contract
   forbids something (int32 where int64 is documented) the message says exactly that. At least
   three right answers per part, written differently from the solution (another loop order,
   vectorised against looped, float64 inside, numpy where allowed), in
   ``autograder/answers/NN_slug.py`` (``RIGHT``), pass every case.
3. **Judges that never crash**: shapes are compared before values; any answer of any type or
   shape gets a one-line message naming the problem (``lib/tests/test_checks_fuzz.py`` feeds
   every check of every chapter the same zoo of wrong answers).
4. **Diagnoses only where the evidence supports them**: a named cause is given only when the
   answer matches that mistake and not the right answer (``diagnose``); otherwise the message
   states the first difference and stops; numbers are printed with enough digits to differ
   (``fmt_pair``); an error raised inside a library is shown at the student's line that called
   it. A training part measures the returned model (outside the student's process: its weights
   are copied out and evaluated by the judge) and says what it found: probabilities instead of
   logits, a loss that does not fall, eval mode, fitting the training data but not held-out text.
5. **At least eight plausible wrong answers per part** (``WRONG`` in the same file), each losing
   exactly that part's points (``tests/test_wrong_answers.py``).
6. **What a probe may use in the sandbox**: see ``sandboxed.py``.
7. **A time limit per case** (``time_limit``, 10 s by default): the same in the notebook and
   when graded; the notebook states it next to the check when it is longer than the default.
"""

from .framework import REGISTRY, Case, Check, CheckFailed, check, register
from .sandboxed import sandbox_copy

__all__ = ["check", "Check", "Case", "CheckFailed", "REGISTRY", "register", "sandbox_copy"]
