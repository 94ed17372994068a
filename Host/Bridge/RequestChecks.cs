using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>Checks a generate request against the limits and the host's capabilities before it is queued.</summary>
public static class RequestChecks
{
    /// <summary>The first problem of <paramref name="request"/>, as the error to answer; null when it may be queued.</summary>
    public static BridgeError? Check(GenerateRequest request, BridgeOptions limits, IJobExecutor executor)
    {
        BridgeError Error(string code, string message) => new() { RequestId = request.RequestId, Code = code, Message = message };

        if (string.IsNullOrWhiteSpace(request.Prompt)) return Error(ErrorCodes.InvalidRequest, "The prompt is empty.");
        if (request.Prompt.Length > limits.MaxPromptLength)
            return Error(ErrorCodes.Limit, $"The prompt has {request.Prompt.Length} characters; this host takes at most {limits.MaxPromptLength}.");
        if (request.Steps is { } steps && (steps < 1 || steps > limits.MaxSteps))
            return Error(steps < 1 ? ErrorCodes.InvalidRequest : ErrorCodes.Limit, $"Steps must be between 1 and {limits.MaxSteps} (got {steps}).");
        if (request.Guidance is { } w && !(w >= 0 && w <= 100))
            return Error(ErrorCodes.InvalidRequest, $"Guidance must be between 0 and 100 (got {w}).");
        if (request.Width < 0 || request.Height < 0)
            return Error(ErrorCodes.InvalidRequest, $"The size {request.Width}×{request.Height} is negative.");
        if (request.Width > limits.MaxResolution || request.Height > limits.MaxResolution)
            return Error(ErrorCodes.Limit, $"The size {request.Width}×{request.Height} is over this host's limit of {limits.MaxResolution} a side.");
        if (request.PreviewSize < 0 || request.PreviewSize > limits.MaxPreviewSize)
            return Error(request.PreviewSize < 0 ? ErrorCodes.InvalidRequest : ErrorCodes.Limit,
                $"The preview size must be between 0 and {limits.MaxPreviewSize} (got {request.PreviewSize}).");
        if (request.Sampler is { Length: > 100 }) return Error(ErrorCodes.Limit, "The sampler name is over 100 characters.");
        if (CheckImage(request.StyleImage, "style reference", limits) is { } style) return Error(style.Code, style.Message);
        if (CheckImage(request.Scribble, "scribble", limits) is { } scribble) return Error(scribble.Code, scribble.Message);
        int legend = request.Legend?.Count ?? 0;
        if (legend > limits.MaxLegendEntries)
            return Error(ErrorCodes.Limit, $"The legend has {legend} colours; this host takes at most {limits.MaxLegendEntries}.");
        if ((request.Scribble is null) != (legend == 0))
            return Error(ErrorCodes.InvalidRequest, "Paint-with-words needs both a scribble and a legend naming a phrase for each colour.");
        foreach (var entry in request.Legend ?? [])
        {
            if (entry is null || string.IsNullOrWhiteSpace(entry.Phrase) || entry.Phrase.Length > limits.MaxPromptLength)
                return Error(ErrorCodes.InvalidRequest, "Every legend colour needs a phrase of the prompt (not empty, not longer than the prompt limit).");
            if (entry.Rgb < 0 || entry.Rgb > 0xFFFFFF || !(entry.Strength >= 0 && entry.Strength <= 100))
                return Error(ErrorCodes.InvalidRequest, $"Legend entry '{entry.Phrase}' has a colour outside 0xRRGGBB or a strength outside 0 to 100.");
        }

        // Features the protocol carries but only some models have: refused unless the host advertises them.
        var capabilities = executor.Capabilities;
        if (request.Tiling && !capabilities.Contains(Capabilities.Tiling))
            return Error(ErrorCodes.Unsupported, "This host's model cannot draw tiling textures yet (no \"tiling\" capability); turn tiling off.");
        if (request.StyleImage is not null && !capabilities.Contains(Capabilities.StyleReference))
            return Error(ErrorCodes.Unsupported, "This host's model takes no style reference yet (no \"style-reference\" capability); remove the style image.");
        if (request.Scribble is not null && !capabilities.Contains(Capabilities.PaintWithWords))
            return Error(ErrorCodes.Unsupported, "This host's model has no paint-with-words yet (no \"paint-with-words\" capability); clear the scribble.");
        if (request.PreviewSize > 0 && !capabilities.Contains(Capabilities.Preview))
            return Error(ErrorCodes.Unsupported, "This host sends no previews; set the preview size to 0.");
        return executor.Check(request);
    }

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
