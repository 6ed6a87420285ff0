"""matplotlib helpers, one Axes per call, never ``plt.show()``: the public face of :mod:`closeframe.views`' plots.

The catalogue plots live in :mod:`closeframe.views.catalogue_plots`, the usage plots in
:mod:`closeframe.views.usage_plots` and the history plot in :mod:`closeframe.views.history_plots`;
``closeframe.plots.__all__`` lists every plot function.
"""

from closeframe.views.catalogue_plots import *  # noqa: F401,F403
from closeframe.views.catalogue_plots import __all__  # noqa: F401
