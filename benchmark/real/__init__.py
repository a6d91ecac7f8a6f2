"""Readers of real IMU datasets in their official layouts."""
