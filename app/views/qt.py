"""The one way into Qt: every view imports Qt from here (as qutebrowser's qt/ package does)."""

from PySide6 import QtCore, QtGui, QtWidgets

Signal = QtCore.Signal
Slot = QtCore.Slot

__all__ = ["QtCore", "QtGui", "QtWidgets", "Signal", "Slot"]
