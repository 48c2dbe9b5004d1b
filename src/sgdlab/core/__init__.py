"""Shared machinery below every problem: errors, atomic files, the run store, the one training
loop, config pieces and plot helpers. Nothing here imports a problem package."""
