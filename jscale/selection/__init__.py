"""Model selection: backtests and several forms weighted by held-out skill."""
