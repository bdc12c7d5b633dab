"""Tests of simserve compare / calibrate / replay."""
