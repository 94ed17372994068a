using static TorchSharp.torch;

namespace EDiffI.Evaluation;

/// <summary>
/// Opens judged prompt sets named on the command line as <c>scheme:argument</c> (for example <c>world:train,short</c>):
/// prompts of scenes the generator never trained on, the real images drawn from them, and a judge that reads the
/// scenes' attributes back from generated images. The host's evaluation (<c>eval</c>, <c>tools/Evaluate</c>) looks
/// a set up by its scheme; plugins register one per scheme.
/// </summary>
public interface IJudgedPromptSetFactory
{
    /// <summary>The scheme it answers to.</summary>
    string Scheme { get; }

    /// <summary>What the argument may be, for help and error messages.</summary>
    string Usage { get; }

    /// <summary>
    /// The first <paramref name="count"/> prompts of <paramref name="argument"/>'s set, judged by the weights in
    /// <paramref name="judgeWeights"/> on <paramref name="device"/>. The same arguments always give the same prompts.
    /// </summary>
    /// <exception cref="ArgumentException">For an argument it does not understand.</exception>
    /// <exception cref="FileNotFoundException">When <paramref name="judgeWeights"/> does not exist.</exception>
    IJudgedPromptSet Open(string argument, int count, string judgeWeights, Device device);
}

/// <summary>Prompts with their real images and a judge of generated ones (see <see cref="IJudgedPromptSetFactory"/>).</summary>
public interface IJudgedPromptSet : IDisposable
{
    /// <summary>The side of the square images the judge reads.</summary>
    int Resolution { get; }

    /// <summary>The prompts, one per scene.</summary>
    IReadOnlyList<string> Prompts { get; }

    /// <summary>The names of the attributes the judge scores, in the order of a report's table.</summary>
    IReadOnlyList<string> Attributes { get; }

    /// <summary>The real images of the scenes, [N, 3, R, R] float32 in [−1, 1] on the CPU (owned by the set).</summary>
    Tensor RealImages { get; }

    /// <summary>
    /// How many of each attribute the judge reads from <paramref name="images"/> ([n, 3, R, R] in [−1, 1]) as the scenes
    /// <paramref name="first"/> to <paramref name="first"/> + n − 1 intended, and how many it scored (an attribute can be
    /// invisible in a scene); every name of <see cref="Attributes"/> is a key.
    /// </summary>
    IReadOnlyDictionary<string, AttributeTally> Judge(Tensor images, int first);

    /// <summary>The judge's features of <paramref name="images"/>, [n, D] float32 on the CPU, for Fréchet distances.</summary>
    Tensor Features(Tensor images);
}

/// <summary>How many readings of one attribute agreed with the scene, out of how many were scored.</summary>
/// <param name="Agree">Readings that agreed.</param>
/// <param name="Scored">Readings made.</param>
public readonly record struct AttributeTally(long Agree, long Scored)
{
    /// <summary>The share that agreed, or null when none was scored.</summary>
    public double? Accuracy => Scored == 0 ? null : Agree / (double)Scored;

    /// <summary>Both tallies together.</summary>
    public static AttributeTally operator +(AttributeTally a, AttributeTally b) => new(a.Agree + b.Agree, a.Scored + b.Scored);

    /// <summary>Both tallies together.</summary>
    public static AttributeTally Add(AttributeTally a, AttributeTally b) => a + b;
}
