"""text2imu.cards."""
