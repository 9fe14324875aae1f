// A Temporal worker serving the sky activities (a sketch for a worker project that has
// @temporalio/worker and sky-temporal-activities installed).
import { NativeConnection, Worker } from '@temporalio/worker';
import { SkyClient } from '@sky/client';
import { createSkyActivities } from 'sky-temporal-activities';
import { temporalContext } from './temporal-context.js';

// Endpoint and credentials as the sky CLI finds them: $SKYPILOT_API_SERVER_ENDPOINT and
// $SKYPILOT_API_SERVER_TOKEN, else api_server.endpoint/token in ~/.sky/config.yaml.
const client = await SkyClient.fromEnvironment();
const activities = createSkyActivities({ client, context: temporalContext, requestPollSeconds: 10, jobPollSeconds: 5 });

const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
const worker = await Worker.create({
  connection,
  taskQueue: 'sky',
  workflowsPath: new URL('./workflows.js', import.meta.url).pathname,
  activities,
});
await worker.run();
client.close();
