/** prom-client's default metrics, one module each (CommonJS, untyped): each registers its metric on `registry`. */
declare module 'prom-client/lib/metrics/*.js' {
  const register: (registry: import('prom-client').Registry, config: Record<string, unknown>) => void;
  export default register;
}
