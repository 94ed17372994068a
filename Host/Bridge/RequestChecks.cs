using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>
/// Checks a generate request against this host's transport limits (sizes, counts, lengths) before it is
/// queued; what a request means is checked once, by the generation service, through <see cref="IJobExecutor.Check"/>.
/// </summary>
public static class RequestChecks
{
    /// <summary>The first problem of <paramref name="request"/>, as the error to answer; null when it may be queued.</summary>
    public static BridgeError? Check(GenerateRequest request, BridgeOptions limits, IJobExecutor executor)
    {
        BridgeError Error(string code, string message) => new() { RequestId = request.RequestId, Code = code, Message = message };

        if (request.Prompt.Length > limits.MaxPromptLength)
            return Error(ErrorCodes.Limit, $"The prompt has {request.Prompt.Length} characters; this host takes at most {limits.MaxPromptLength}.");
        if (request.Steps is { } steps && steps > limits.MaxSteps)
            return Error(ErrorCodes.Limit, $"Steps must be between 1 and {limits.MaxSteps} on this host (got {steps}).");
        if (request.Width > limits.MaxResolution || request.Height > limits.MaxResolution)
            return Error(ErrorCodes.Limit, $"The size {request.Width}×{request.Height} is over this host's limit of {limits.MaxResolution} a side.");
        if (request.PreviewSize < 0 || request.PreviewSize > limits.MaxPreviewSize)
            return Error(request.PreviewSize < 0 ? ErrorCodes.InvalidRequest : ErrorCodes.Limit,
                $"The preview size must be between 0 and {limits.MaxPreviewSize} (got {request.PreviewSize}).");
        if (request.Sampler is { Length: > 100 }) return Error(ErrorCodes.Limit, "The sampler name is over 100 characters.");
        if (CheckImage(request.StyleImage, "style reference", limits) is { } style) return Error(style.Code, style.Message);
        if (CheckImage(request.Scribble, "scribble", limits) is { } scribble) return Error(scribble.Code, scribble.Message);
        if (CheckImage(request.InitImage, "init image", limits) is { } init) return Error(init.Code, init.Message);
        if (CheckImage(request.Mask, "mask", limits) is { } mask) return Error(mask.Code, mask.Message);
        if (request.MaterialPreviewSize < 0 || request.MaterialPreviewSize > limits.MaxInputImageSide)
            return Error(request.MaterialPreviewSize < 0 ? ErrorCodes.InvalidRequest : ErrorCodes.Limit,
                $"The material preview size must be between 0 and {limits.MaxInputImageSide} (got {request.MaterialPreviewSize}).");
        if (request.TileAxes is { Length: > 8 }) return Error(ErrorCodes.InvalidRequest, "Tile axes must be x, y or xy.");
        if (request.NormalConvention is { Length: > 16 }) return Error(ErrorCodes.InvalidRequest, "The normal convention must be opengl or directx.");
        int legend = request.Legend?.Count ?? 0;
        if (legend > limits.MaxLegendEntries)
            return Error(ErrorCodes.Limit, $"The legend has {legend} colours; this host takes at most {limits.MaxLegendEntries}.");
        foreach (var entry in request.Legend ?? [])
        {
            if (entry is null || string.IsNullOrWhiteSpace(entry.Phrase) || entry.Phrase.Length > limits.MaxPromptLength)
                return Error(ErrorCodes.InvalidRequest, "Every legend colour needs a phrase of the prompt (not empty, not longer than the prompt limit).");
            if (entry.Rgb < 0 || entry.Rgb > 0xFFFFFF || !(entry.Strength >= 0 && entry.Strength <= 100))
                return Error(ErrorCodes.InvalidRequest, $"Legend entry '{entry.Phrase}' has a colour outside 0xRRGGBB or a strength outside 0 to 100.");
        }

        int conditions = request.Conditions?.Count ?? 0;
        if (conditions > MaxConditions) return Error(ErrorCodes.Limit, $"The request names {conditions} conditioners; this host takes at most {MaxConditions}.");
        foreach (var entry in request.Conditions ?? [])
        {
            if (entry is null || string.IsNullOrWhiteSpace(entry.Name) || entry.Name.Length > 100)
                return Error(ErrorCodes.InvalidRequest, "Every conditioner entry needs a name (at most 100 characters).");
            if ((entry.Text?.Length ?? 0) > limits.MaxPromptLength || (entry.Bytes?.LongLength ?? 0) > limits.MaxFrameBytes)
                return Error(ErrorCodes.Limit, $"The input of conditioner '{entry.Name}' is over this host's limits.");
        }
        if (request.PreviewSize > 0 && !executor.Capabilities.Contains(Capabilities.Preview))
            return Error(ErrorCodes.Unsupported, "This host sends no previews; set the preview size to 0.");
        return executor.Check(request);
    }

    /// <summary>Most conditioner entries in one request.</summary>
    public const int MaxConditions = 16;

    private static BridgeError? CheckImage(ImageData? image, string what, BridgeOptions limits)
    {
        if (image is null) return null;
        if (!image.IsWellFormed())
            return new BridgeError { Code = ErrorCodes.InvalidRequest, Message = $"The {what} is malformed: {image.Width}×{image.Height} needs {(long)image.Width * image.Height * 4} RGBA bytes, it has {image.Rgba?.Length ?? 0}." };
        if (image.Width > limits.MaxInputImageSide || image.Height > limits.MaxInputImageSide)
            return new BridgeError { Code = ErrorCodes.Limit, Message = $"The {what} is {image.Width}×{image.Height}; this host takes at most {limits.MaxInputImageSide} a side." };
        return null;
    }
}
