// Ambient types for the two untyped devDependencies the benchmarks drive: autocannon and koa-redis.

declare module 'autocannon' {
  interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
  }
  interface Result {
    requests: Histogram;
    latency: Histogram;
    throughput: Histogram;
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    mismatches: number;
    '2xx': number;
  }
  interface Client {
    setHeaders(headers: Record<string, string>): void;
  }
  interface Options {
    url: string;
    method?: string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    amount?: number;
    headers?: Record<string, string>;
    setupClient?: (client: Client) => void;
    verifyBody?: (body: string) => boolean;
  }
  interface Instance extends PromiseLike<Result> {
    stop(): void;
    /** Every response: its status, size, and duration in ms measured with process.hrtime. */
    on(
      event: 'response',
      listener: (client: unknown, status: number, bytes: number, ms: number) => void,
    ): this;
  }
  function autocannon(options: Options): Instance;
  export default autocannon;
}

declare module 'koa-redis' {
  interface RedisStore {
    client: object;
    get(key: string): Promise<unknown>;
    set(key: string, session: unknown, maxAge?: number): Promise<void>;
    destroy(key: string): Promise<void>;
    quit(): Promise<void>;
  }
  function redisStore(options: Record<string, unknown>): RedisStore;
  export default redisStore;
}
