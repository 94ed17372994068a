using EDiffI.Host.Runtime;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// Who this process is in a distributed run, as launchers say it through the environment: torchrun (and Kubernetes
/// operators, and <see cref="LocalLauncher"/>) set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; srun sets
/// SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID, which stand in for the first three when they are absent.
/// </summary>
/// <param name="Rank">This process's rank.</param>
/// <param name="WorldSize">Number of processes.</param>
/// <param name="LocalRank">Its index on its machine: it trains on cuda:LOCAL_RANK.</param>
/// <param name="MasterAddress">Where rank 0 listens for the rendezvous.</param>
/// <param name="MasterPort">Rank 0's rendezvous port.</param>
public sealed record DistributedEnvironment(int Rank, int WorldSize, int LocalRank, string MasterAddress, int MasterPort)
{
    /// <summary>The rendezvous port when MASTER_PORT is not set (torchrun's default).</summary>
    public const int DefaultPort = 29500;

    /// <summary>Reads the process's environment.</summary>
    public static DistributedEnvironment FromEnvironment() => FromVariables(Environment.GetEnvironmentVariable);

    /// <summary>Reads the variables through <paramref name="get"/> (null for an unset one); throws a <see cref="UserException"/> naming what is missing or wrong.</summary>
    public static DistributedEnvironment FromVariables(Func<string, string?> get)
    {
        int? Read(string name, string? fallback = null)
        {
            string? text = get(name);
            string used = name;
            if (string.IsNullOrWhiteSpace(text) && fallback is not null) (text, used) = (get(fallback), fallback);
            if (string.IsNullOrWhiteSpace(text)) return null;
            return int.TryParse(text.Trim(), out int value) && value >= 0
                ? value
                : throw new UserException($"{used}='{text}' is not a whole number of zero or more.");
        }
        int rank = Read("RANK", "SLURM_PROCID")
            ?? throw new UserException("--distributed reads its rank from RANK (torchrun sets it) or SLURM_PROCID (srun); neither is set. " +
                                       "Start it under torchrun --no-python or srun, or use --gpus N to start N local processes.");
        int world = Read("WORLD_SIZE", "SLURM_NTASKS")
            ?? throw new UserException("--distributed reads the number of processes from WORLD_SIZE or SLURM_NTASKS; neither is set.");
        if (world < 1 || rank >= world) throw new UserException($"RANK {rank} does not lie within WORLD_SIZE {world}.");
        int local = Read("LOCAL_RANK", "SLURM_LOCALID") ?? rank; // one machine when nothing says otherwise
        string? address = get("MASTER_ADDR");
        if (string.IsNullOrWhiteSpace(address))
        {
            if (world > 1)
                throw new UserException("MASTER_ADDR is not set: every rank must know where rank 0 listens. Under Slurm, for example: " +
                                        "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1).");
            address = "127.0.0.1";
        }
        int port = Read("MASTER_PORT") ?? DefaultPort;
        if (port is 0 or > 65535) throw new UserException($"MASTER_PORT {port} is not a TCP port (1 … 65535).");
        return new DistributedEnvironment(rank, world, local, address.Trim(), port);
    }
}
