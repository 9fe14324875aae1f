/** Request latencies, submit to end: a ping takes milliseconds, a launch on real machines many minutes. */
export const REQUEST_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Driver calls: a status is a fraction of a second, a provision up to the 20-minute deadline. */
export const DRIVER_CALL_SECONDS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1200];

/** Store writes: an in-memory write is microseconds, a synced LevelDB or PostgreSQL commit milliseconds. */
export const STORE_WRITE_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
