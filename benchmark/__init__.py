"""text2imu.benchmark."""
