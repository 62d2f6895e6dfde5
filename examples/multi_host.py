"""Many hosts: one bootstrap of the bundled Chinchilla runs, split over every process of a JAX run.

Start it once on every host, each with its own process id (0 on the coordinator's host):

    python examples/multi_host.py --coordinator host0:1234 --processes 2 --process-id 0   # on host0
    python examples/multi_host.py --coordinator host0:1234 --processes 2 --process-id 1   # on host1

Every process makes the same call and gets the whole result; process 0 prints it. On one machine,
`--coordinator localhost:1234` in two terminals tries it out (CPU collectives over gloo).
"""

import argparse

import jax

import jscale


def main(coordinator: str, n_processes: int, process_id: int, n_resamples: int = 4000, every: int = 1):
    """Bootstraps the Chinchilla law over every device of every process (Hoffmann's grid, or every
    `every`-th start of it, for the full fit) and returns the `BootstrapResult`."""
    # Before any other JAX call: the processes find each other and pool their devices.
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=n_processes, process_id=process_id)
    law, data = jscale.laws.Chinchilla(), jscale.datasets.load("chinchilla")
    mesh = jax.make_mesh((jax.device_count(),), ("fits",))
    execution = jscale.Execution(mesh=mesh)
    full = jscale.fit(law, data, starts=law.default_starts()[::every], execution=execution)
    boot = jscale.bootstrap(law, data, n_resamples=n_resamples, key=0, full_fit=full, execution=execution)
    if jax.process_index() == 0:
        print(f"{jax.process_count()} processes, {jax.device_count()} devices")
        print(boot.summary())
    return boot


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", required=True, help="host:port of process 0, the same for every process")
    parser.add_argument("--processes", type=int, required=True, help="how many processes in all")
    parser.add_argument("--process-id", type=int, required=True, help="this process's id, 0 to processes - 1")
    parser.add_argument("--resamples", type=int, default=4000, help="bootstrap resamples (default 4000)")
    parser.add_argument("--every", type=int, default=1, help="fit from every k-th start of Hoffmann's grid")
    args = parser.parse_args()
    main(args.coordinator, args.processes, args.process_id, n_resamples=args.resamples, every=args.every)
