"""text2imu.builder.formats."""
