import { SkyError, isJobTerminal } from '@sky/protocol';
import type { JobRecord, JobSpec, JobStatus, RequestRecord } from '@sky/protocol';
import { applyJobPatch, copyJson, requestLinkRefusal } from '@sky/plugin-api';
import type { JobCreateOptions, JobListFilter, JobPatch, JobRepository } from '@sky/plugin-api';
import { lockCluster } from './clusters.js';
import type { Db } from './db.js';
import { storeRequest } from './requests.js';

function isId(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= 2_147_483_647;
}

export class PgJobRepository implements JobRepository {
  constructor(private readonly db: () => Db) {}

  async create(jobInput: Omit<JobRecord, 'id'>, specInput: JobSpec, options: JobCreateOptions = {}): Promise<JobRecord> {
    const job = copyJson(jobInput);
    const spec = copyJson(specInput);
    return this.db().feedTx('queue a job', async (tx) => {
      const cluster = await lockCluster(tx, job.cluster);
      if (cluster === undefined || cluster.clusterId !== job.clusterId) {
        const why = cluster === undefined ? 'no such cluster' : `cluster id ${job.clusterId} is not its current incarnation (${cluster.clusterId})`;
        throw new SkyError('VALIDATION_FAILED', `cannot add a job to cluster "${job.cluster}": ${why}`, {
          hint: 'launch the cluster again and submit the job to the new cluster',
          details: { field: 'cluster', cluster: job.cluster, clusterId: job.clusterId },
        });
      }
      let request: RequestRecord | undefined;
      if (options.request !== undefined) {
        request = (await tx.one<{ doc: RequestRecord }>('SELECT doc FROM requests WHERE id = $1 FOR UPDATE', [options.request]))?.doc;
        const refusal = requestLinkRefusal(options.request, request);
        if (refusal !== undefined) throw refusal;
      }
      const counter = await tx.one<{ id: number }>('UPDATE clusters SET job_counter = job_counter + 1 WHERE name = $1 RETURNING job_counter AS id', [job.cluster]);
      if (counter === undefined) throw new Error(`cluster "${job.cluster}" vanished while it was locked`);
      const record = { ...copyJson(job), id: counter.id } as JobRecord;
      const ended = isJobTerminal(record.status);
      await tx.rows('INSERT INTO jobs (cluster, id, status, submitted_at, active, doc, spec) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        record.cluster,
        record.id,
        record.status,
        record.submittedAt,
        !ended,
        JSON.stringify(record),
        ended ? null : JSON.stringify(spec),
      ]);
      tx.emit({ kind: 'job', cluster: record.cluster, id: record.id, record });
      if (request !== undefined) await storeRequest(tx, { ...request, job: { cluster: record.cluster, id: record.id } });
      return copyJson(record);
    });
  }

  async get(cluster: string, id: number): Promise<JobRecord | undefined> {
    if (!isId(id)) return undefined;
    const rows = await this.db().rows<{ doc: JobRecord }>('read a job', 'SELECT doc FROM jobs WHERE cluster = $1 AND id = $2', [cluster, id]);
    return rows[0]?.doc;
  }

  async getSpec(cluster: string, id: number): Promise<JobSpec | undefined> {
    if (!isId(id)) return undefined;
    const rows = await this.db().rows<{ spec: JobSpec | null }>('read a job spec', 'SELECT spec FROM jobs WHERE cluster = $1 AND id = $2', [cluster, id]);
    return rows[0]?.spec ?? undefined;
  }

  async list(cluster: string, filter: JobListFilter = {}): Promise<JobRecord[]> {
    const values: unknown[] = [cluster];
    let where = 'cluster = $1';
    if (filter.status !== undefined && filter.status.length > 0) {
      values.push([...filter.status]);
      where += ` AND status = ANY($${values.length})`;
    }
    let limit = '';
    if (filter.limit !== undefined) {
      values.push(Math.max(0, Math.floor(filter.limit)));
      limit = ` LIMIT $${values.length}`;
    }
    const rows = await this.db().rows<{ doc: JobRecord }>('list jobs', `SELECT doc FROM jobs WHERE ${where} ORDER BY id ${filter.oldestFirst === true ? 'ASC' : 'DESC'}${limit}`, values);
    return rows.map((r) => r.doc);
  }

  async listActive(): Promise<JobRecord[]> {
    const rows = await this.db().rows<{ doc: JobRecord }>('list active jobs', 'SELECT doc FROM jobs WHERE active ORDER BY submitted_at, cluster, id');
    return rows.map((r) => r.doc);
  }

  async transition(cluster: string, id: number, fromInput: readonly JobStatus[], patchInput: JobPatch): Promise<JobRecord | undefined> {
    const from = [...fromInput];
    const patch = copyJson(patchInput);
    if (from.length === 0 || !isId(id)) return undefined;
    return this.db().feedTx('transition a job', async (tx) => {
      const row = await tx.one<{ doc: JobRecord }>('SELECT doc FROM jobs WHERE cluster = $1 AND id = $2 AND status = ANY($3) FOR UPDATE', [cluster, id, from]);
      if (row === undefined) return undefined;
      const next = applyJobPatch(row.doc, patch);
      const ended = isJobTerminal(next.status);
      await tx.rows(`UPDATE jobs SET status = $3, active = $4, doc = $5${ended ? ', spec = NULL' : ''} WHERE cluster = $1 AND id = $2`, [cluster, id, next.status, !ended, JSON.stringify(next)]);
      tx.emit({ kind: 'job', cluster, id, record: next });
      return copyJson(next);
    });
  }
}
