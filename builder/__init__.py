"""text2imu.builder."""
