import { Hono } from "hono";

// Ponder requires an API file; the benchmark only needs the /ready route Ponder adds itself.
export default new Hono();
