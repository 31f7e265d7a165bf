// Dependency rules of the layout (README "Layout", docs/ARCHITECTURE.md "Layers"), checked by
// `make lint` and CI: npx depcruise --config .dependency-cruiser.cjs <folders>.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: split the shared part into a module both sides import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-is-a-library',
      severity: 'error',
      comment: 'shared/ is the library every service uses: it never imports a service, the CLI, the cluster starter, a tool or the load generator.',
      from: { path: '^shared/' },
      to: { path: '^(services|cli|cluster|tools|loadtest)/' },
    },
    {
      name: 'no-service-imports-another',
      severity: 'error',
      comment: 'A service imports shared/ only; what two services share belongs in shared/.',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'services-import-no-harness',
      severity: 'error',
      comment: 'Services do not depend on what starts or drives them.',
      from: { path: '^services/' },
      to: { path: '^(cli|cluster|tools|loadtest|test|bench)/' },
    },
    {
      name: 'ps-core-without-tfjs',
      severity: 'error',
      comment: 'The PS and the parameter core (update rules, ParamSpec, arenas, protocol, store, transport, codec) never load TensorFlow.js, directly or through anything they import.',
      from: { path: '^(services/ps/|shared/(update-rules|optimizer|param-spec|sparse-arena|row-index|protocol|store|transport|codec))' },
      to: { path: '@tensorflow/', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a cycle through types is still a cycle for the reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(reports|\\.tap)/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
