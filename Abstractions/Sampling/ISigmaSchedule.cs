namespace EDiffI.Sampling;

/// <summary>A σ discretisation: <c>Sigmas(n)</c> gives n + 1 decreasing values ending at 0.</summary>
public interface ISigmaSchedule
{
    /// <summary>The name users select the schedule by (for example "karras").</summary>
    string Name { get; }

    /// <summary>The σ values of an n-step run, decreasing, ending at 0.</summary>
    double[] Sigmas(int steps);

    /// <summary>
    /// The schedule of <paramref name="steps"/> steps started at <paramref name="sigmaMax"/> instead of its own largest σ
    /// (a super-resolution stage, whose low-resolution input already fixes the layout, starts lower). A schedule that
    /// cannot start elsewhere keeps its own.
    /// </summary>
    double[] Sigmas(int steps, double sigmaMax) => Sigmas(steps);
}
