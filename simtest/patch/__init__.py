"""Physical adversarial patches: differentiable rendering and EOT optimisation.

:mod:`.render` turns simulator frames into differentiable views of a patch,
:mod:`.scenes` builds one-actor scenes for viewpoints, :mod:`.objective` scores a
detector's response to the patched actor, :mod:`.optimize` runs Expectation over
Transformation and :mod:`.evaluate` measures miss rates against the random control.
"""
