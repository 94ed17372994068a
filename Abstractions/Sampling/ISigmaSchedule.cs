namespace EDiffI.Sampling;

/// <summary>A σ discretisation: <c>Sigmas(n)</c> gives n + 1 decreasing values ending at 0.</summary>
public interface ISigmaSchedule
{
    /// <summary>The name users select the schedule by (for example "karras").</summary>
    string Name { get; }

    /// <summary>The σ values of an n-step run, decreasing, ending at 0.</summary>
    double[] Sigmas(int steps);
}
