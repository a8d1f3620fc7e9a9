// The servers a benchmark run compares. Every one is driven by the same client
// (bench/lib/raw-client.mjs) with the same requests.
import path from 'node:path';

const RID = 'linux-x64';

/**
 * role: "peer" is the named peer every ratio is taken against; "ours" are builds of the
 * daemon; "reference" is there to explain the figures (it is not a product).
 * Variants marked `explore` run only with --explore.
 */
export function variants(root) {
  const daemonArgs = ['daemon', '--stdio'];
  const published = (id, publishArgs, extra = {}) => ({
    id,
    role: 'ours',
    command: path.join(root, '.artifacts', 'bench', id, 'colab'),
    args: daemonArgs,
    build: {
      kind: 'publish',
      command: 'bash',
      args: ['scripts/publish-daemon.sh', RID, '--out', `.artifacts/bench/${id}`, ...publishArgs],
    },
    ...extra,
  });
  return [
    {
      id: 'node-peer',
      role: 'peer',
      label: 'Node + vscode-jsonrpc echo server (bench/peer/echo-server.mjs)',
      command: process.execPath,
      args: [path.join(root, 'bench', 'peer', 'echo-server.mjs')],
    },
    {
      id: 'daemon-fdd',
      role: 'ours',
      label: 'daemon, `dotnet build -c Release` apphost (framework-dependent, JIT)',
      command: path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab'),
      args: daemonArgs,
      build: { kind: 'build', command: 'dotnet', args: ['build', 'daemon/Colab.Daemon.csproj', '-c', 'Release', '-nologo', '-v', 'q', '-clp:ErrorsOnly'] },
    },
    published('daemon-sc', [], {
      label: 'daemon, scripts/publish-daemon.sh: self-contained, trimmed, ReadyToRun, single file',
    }),
    published(
      'daemon-sc-lean',
      ['-p:EventSourceSupport=false', '-p:ConcurrentGarbageCollection=false', '-p:TieredPGO=false', '-p:MetricsSupport=false'],
      {
        label: 'daemon, as daemon-sc plus EventSourceSupport=false, ConcurrentGarbageCollection=false, TieredPGO=false, MetricsSupport=false',
        explore: true,
      },
    ),
    published('daemon-sc-multi', ['--no-single-file'], {
      label: 'daemon, as daemon-sc but not single file (colab + colab.dll + framework files; ReadyToRun not composite, the SDK default there)',
      explore: true,
    }),
    published('daemon-sc-noncomposite', ['-p:PublishReadyToRunComposite=false'], {
      label: 'daemon, as daemon-sc but one ReadyToRun image per assembly (single file + ReadyToRun is composite by default since .NET 7)',
      explore: true,
    }),
    {
      id: 'daemon-fdd-r2r',
      role: 'ours',
      label: 'daemon, framework-dependent publish with ReadyToRun (needs a .NET 10 runtime on the machine)',
      command: path.join(root, '.artifacts', 'bench', 'daemon-fdd-r2r', 'colab'),
      args: daemonArgs,
      build: {
        kind: 'publish',
        command: 'dotnet',
        args: [
          'publish', 'daemon/Colab.Daemon.csproj', '-c', 'Release', '-r', RID, '--no-self-contained',
          '-p:PublishReadyToRun=true', `-p:IntermediateOutputPath=${path.join(root, '.artifacts', 'obj', 'bench-fdd-r2r')}/`,
          '-o', '.artifacts/bench/daemon-fdd-r2r', '-nologo', '-v', 'q', '-clp:ErrorsOnly',
        ],
      },
      explore: true,
    },
    {
      id: 'daemon-sc+TieredPGO=0',
      role: 'ours',
      label: 'daemon-sc run with DOTNET_TieredPGO=0',
      command: path.join(root, '.artifacts', 'bench', 'daemon-sc', 'colab'),
      args: daemonArgs,
      env: { DOTNET_TieredPGO: '0' },
      explore: true,
    },
    {
      id: 'daemon-sc+TC=0',
      role: 'ours',
      label: 'daemon-sc run with DOTNET_TieredCompilation=0 (ReadyToRun code, then fully optimised JIT)',
      command: path.join(root, '.artifacts', 'bench', 'daemon-sc', 'colab'),
      args: daemonArgs,
      env: { DOTNET_TieredCompilation: '0' },
      explore: true,
    },
    {
      id: 'daemon-sc+QJFL=0',
      role: 'ours',
      label: 'daemon-sc run with DOTNET_TC_QuickJitForLoops=0',
      command: path.join(root, '.artifacts', 'bench', 'daemon-sc', 'colab'),
      args: daemonArgs,
      env: { DOTNET_TC_QuickJitForLoops: '0' },
      explore: true,
    },
    {
      id: 'daemon-sc+nospin',
      role: 'ours',
      label: 'daemon-sc run with DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (thread-pool workers sleep at once instead of spinning)',
      command: path.join(root, '.artifacts', 'bench', 'daemon-sc', 'colab'),
      args: daemonArgs,
      env: { DOTNET_ThreadPool_UnfairSemaphoreSpinLimit: '0' },
      explore: true,
    },
    {
      id: 'dotnet-trivial-echo',
      role: 'reference',
      label: 'reference: 100-line single-threaded .NET echo, no host/DI/logging (bench/peer/TrivialEcho, framework-dependent)',
      command: path.join(root, 'bench', 'peer', 'TrivialEcho', 'bin', 'Release', 'net10.0', 'trivial-echo'),
      args: [],
      build: {
        kind: 'reference',
        command: 'dotnet',
        args: ['build', 'bench/peer/TrivialEcho/TrivialEcho.csproj', '-c', 'Release', '-nologo', '-v', 'q', '-clp:ErrorsOnly'],
      },
    },
  ];
}
