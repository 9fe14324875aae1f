/** The kinds of things the event stream reports changes of. */
export const FEED_KINDS = ['cluster', 'job', 'managedJob', 'service', 'request'] as const;
export type FeedKind = (typeof FEED_KINDS)[number];
