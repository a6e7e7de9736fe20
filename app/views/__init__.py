"""Qt only: windows, widgets, item models and dialogs. Calls services; never SQL, never HTTP."""
