using EDiffI.Attention;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>Service registration of paint-with-words.</summary>
public static class PaintWithWordsServiceCollectionExtensions
{
    /// <summary>Adds paint-with-words.</summary>
    /// <param name="services">The services to add to.</param>
    /// <param name="configure">
    /// Sets the options (the plugin binds the "PaintWithWords" section here). They are read once, now,
    /// so an unknown weighting faults the plugin at start instead of failing the first generation.
    /// </param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentException">For an unknown <see cref="PaintWithWordsOptions.Weighting"/> or a negative <see cref="PaintWithWordsOptions.Outside"/>.</exception>
    public static IServiceCollection AddPaintWithWords(this IServiceCollection services, Action<PaintWithWordsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new PaintWithWordsOptions();
        configure?.Invoke(options);
        PaintWeightFunction function = (options.Weighting ?? "max").ToLowerInvariant() switch
        {
            "max" => PaintWeights.Max,
            "std" => PaintWeights.Std,
            _ => throw new ArgumentException($"Unknown PaintWithWords:Weighting '{options.Weighting}' (known: max, std)."),
        };
        if (!(options.Outside >= 0) || double.IsInfinity(options.Outside))
            throw new ArgumentException($"PaintWithWords:Outside must be a finite number of 0 or more (got {options.Outside}).");
        services.TryAddSingleton<IPaintWithWords>(new PaintWithWords(function, options.Outside));
        return services;
    }
}
