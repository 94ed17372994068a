#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;
// UnityEditor has a Progress of its own (the background-task bar, since 2020.1).
using BridgeProgress = EDiffI.Bridge.Protocol.Progress;
using EditorProgress = UnityEditor.Progress;

namespace EDiffI.Bridge.Unity.Editor
{
    // A batch from the window's settings to saved results: the requests, the background task in Unity's Progress window,
    // the worker-thread encoding and the main-thread saving.
    public sealed partial class TextureGeneratorWindow
    {
        private async Task GenerateAsync()
        {
            try
            {
                await RunGenerationAsync().ConfigureAwait(false);
            }
            catch (Exception e) // whatever escaped the paths below still ends as a message, never as a stuck window
            {
                Post(() => { _jobRunning = false; Fail("The generation failed", e); });
            }
        }

        private async Task RunGenerationAsync()
        {
            var client = _client;
            var lifetime = _lifetime!.Token;
            bool farm = _farm.Enabled; // the farm checks the request on its workers; the local host need not be connected
            if (!farm && (client == null || !client.IsConnected))
            {
                DropClient();
                SetBusy(false, "Not connected: press Connect, or Start host if none is running.", MessageType.Warning);
                return;
            }
            List<GenerateRequest> requests;
            string outputFolder;
            MapKind? packed;
            try
            {
                outputFolder = TextureAssets.CheckFolder(_outputFolder);
                requests = BuildRequests(farm ? null : client);
                // The packed smoothness map the active pipeline's shader reads (none for a pipeline the package does not know).
                var pipeline = TextureAssets.CurrentPipeline();
                packed = pipeline == RenderPipelineKind.Unknown ? (MapKind?)null : MaterialMapping.For(pipeline).SmoothnessMap;
            }
            catch (Exception e) when (e is InvalidOperationException || e is ArgumentException)
            {
                SetBusy(false, e.Message, MessageType.Error);
                return;
            }
            _operation?.Dispose();
            var operation = _operation = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
            _jobRunning = true;
            _progress = 0;
            _progressText = "sending";
            _saveFailures = 0;
            StartProgress(requests.Count);
            SetBusy(true, requests.Count == 1 ? "Generating…" : $"Generating {requests.Count} images…", MessageType.Info);
            int index = 0;
            try
            {
                for (; index < requests.Count; index++)
                {
                    var request = requests[index];
                    int at = index;
                    var result = farm
                        ? await _farm.GenerateAsync(request, p => Post(() => ShowProgress(p, at, requests.Count)), st => Post(() => _progressText = st),
                            operation.Token).ConfigureAwait(false)
                        : await client!.GenerateAsync(request, p => Post(() => ShowProgress(p, at, requests.Count)),
                            a => Post(() => _progressText = a.JobsAhead == 0 ? "starting" : $"queued behind {a.JobsAhead}"),
                            operation.Token).ConfigureAwait(false);
                    // Encoding the PNGs is the slow part of saving: it runs here, on the worker thread.
                    string stem = TextureNames.Stem(request.Prompt, result.Seed, request.VariationSeed, request.VariationStrength);
                    List<EncodedMap> files;
                    try
                    {
                        files = ResultFiles.Encode(result, request, stem, packed);
                    }
                    finally
                    {
                        ImageBuffers.Return(result.Rgba);
                    }
                    Post(() => SaveResult(files, outputFolder, stem, request, result, at, requests.Count));
                }
                Post(() =>
                {
                    _jobRunning = false;
                    _progress = 1;
                    _progressText = _saveFailures == 0 ? "done" : $"done, {_saveFailures} not saved";
                    FinishProgress(_saveFailures == 0 ? EditorProgress.Status.Succeeded : EditorProgress.Status.Failed);
                    _busy = false; // the last save's message stays
                    Repaint();
                });
            }
            catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
            {
                // The window closed or scripts are reloading: _jobRunning stays set for OnEnable to report.
            }
            catch (OperationCanceledException)
            {
                int done = index;
                Post(() =>
                {
                    _jobRunning = false;
                    FinishProgress(EditorProgress.Status.Canceled);
                    SetBusy(false, done == 0 ? "Cancelled." : $"Cancelled after {done} of {requests.Count} images (those are in the gallery).", MessageType.Warning);
                });
            }
            catch (BridgeException e)
            {
                Post(() =>
                {
                    _jobRunning = false;
                    FinishProgress(EditorProgress.Status.Failed);
                    if (client != null && !client.IsConnected)
                    {
                        _wasConnected = false;
                        if (ReferenceEquals(_client, client)) DropClient();
                    }
                    SetBusy(false, e.Message, MessageType.Error);
                });
            }
            catch (Exception e)
            {
                Post(() => { _jobRunning = false; FinishProgress(EditorProgress.Status.Failed); Fail("The generation failed", e); });
            }
        }

        // On the main thread: writes and imports one result and puts it in the gallery; a failure is said and the batch goes on.
        private void SaveResult(List<EncodedMap> files, string folder, string stem, GenerateRequest request, GenerateResult result, int index, int count)
        {
            try
            {
                var entry = TextureAssets.Save(files, folder, stem, request, result);
                _gallery.Add(entry);
                string saved = $"Saved {entry.Folder}/{entry.Stem} ({entry.Caption}" + (count > 1 ? $", {index + 1} of {count})." : ").");
                // Notes are what the host let pass but wants seen (scribble colours missing from the legend, resampling).
                if (result.Notes == null) SetStatus(saved, MessageType.Info);
                else SetStatus(saved + "\n" + string.Join("\n", result.Notes), MessageType.Warning);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is ArgumentException)
            {
                _saveFailures++;
                SetStatus(e.Message, MessageType.Error);
            }
            catch (Exception e) // the batch goes on, and the window stays busy until it is over
            {
                _saveFailures++;
                Debug.LogException(e);
                SetStatus($"Saving {stem} failed: {e.Message} (details in the Console).", MessageType.Error);
            }
        }

        private void StartProgress(int count)
        {
            FinishProgress(EditorProgress.Status.Canceled); // a task left over from an earlier batch
            _progressId = EditorProgress.Start("EDiffI textures", count == 1 ? _prompt.Trim() : $"{count} × {_prompt.Trim()}");
            // The Progress window's cancel button: cancel as the window's own button does.
            EditorProgress.RegisterCancelCallback(_progressId, () =>
            {
                CancelOperation();
                return true;
            });
        }

        private void FinishProgress(EditorProgress.Status status)
        {
            int id = _progressId;
            _progressId = -1;
            if (id < 0 || !EditorProgress.Exists(id)) return;
            if (EditorProgress.GetStatus(id) == EditorProgress.Status.Running) EditorProgress.Finish(id, status);
        }

        /// <summary>
        /// The requests of one press of Generate: a batch of seeds or of variation seeds, each with every setting of the
        /// window, checked against the capabilities of <paramref name="client"/> (null for a farm: its workers check them).
        /// </summary>
        private List<GenerateRequest> BuildRequests(BridgeClient? client)
        {
            if (_size < 0 || _steps < 0 || _guidance < 0) throw new InvalidOperationException("Size, steps and guidance are 0 (the model's) or more.");
            void Need(bool used, string capability, string what)
            {
                if (used && client != null && !client.HasCapability(capability))
                    throw new InvalidOperationException($"This host does not offer {what} (capability '{capability}'): untick it, or start a newer host or a model that has it.");
            }
            bool tiles = _tileX || _tileY;
            bool init = _initSource != NoSource, mask = init && _maskSource != NoSource;
            Need(tiles, Capabilities.Tiling, "seamless tiling");
            Need(init && !mask && !_makeTileable, Capabilities.ImageToImage, "img2img");
            Need(mask, Capabilities.Inpainting, "inpainting");
            Need(init && _makeTileable, Capabilities.MakeTileable, "make-tileable");
            Need(_variations, Capabilities.Variations, "variations");
            Need(_pbr, Capabilities.Pbr, "PBR maps");
            Need(_usePaint, Capabilities.PaintWithWords, "paint with words");

            ImageData? initImage = null, maskImage = null;
            if (init)
            {
                initImage = _initSource == TextureSource ? TextureAssets.ReadImage(_initTexture!, "init image") : _initCanvas.Scribble();
                if (mask)
                {
                    maskImage = _maskSource == TextureSource ? TextureAssets.ReadImage(_maskTexture!, "mask") : _maskCanvas.Scribble();
                    // The host takes a mask of the init's size; the canvas is smaller, a mask texture may be too.
                    if (maskImage.Width != initImage.Width || maskImage.Height != initImage.Height)
                        maskImage = new ImageData
                        {
                            Width = initImage.Width, Height = initImage.Height,
                            Rgba = MapPacking.Nearest(maskImage.Rgba, maskImage.Width, maskImage.Height, initImage.Width, initImage.Height),
                        };
                }
            }
            ImageData? style = _style != null && _styleStrength > 0 ? TextureAssets.ReadImage(_style, "style reference") : null;
            List<LegendEntry>? legend = _usePaint ? _canvas.Legend() : null;
            ImageData? scribble = _usePaint ? _canvas.Scribble() : null;

            // Random seeds are drawn here, so a batch's seeds are consecutive and each file name says its own.
            if (_stageSettings && (_sr256Steps < 0 || _sr1024Steps < 0 || _srSigmaMax < 0))
                throw new InvalidOperationException("Stage steps and σ_max are 0 (the model's) or more.");
            long seed = _randomSeed ? _random.Next() : _seed;
            long variationSeed = _randomVariationSeed ? _random.Next() : _variationSeed;
            // Make-tileable wraps both axes unless the tiling toggles pick some.
            string? axes = tiles ? (_tileX ? "x" : "") + (_tileY ? "y" : "") : init && _makeTileable ? "xy" : null;
            var requests = new List<GenerateRequest>();
            foreach (var seeds in BatchPlan.Seeds(_batchCount, seed, _variations, variationSeed))
            {
                var request = new GenerateRequest
                {
                    Prompt = _prompt.Trim(),
                    Seed = seeds.Seed,
                    Steps = _steps > 0 ? _steps : (int?)null,
                    Guidance = _guidance > 0 ? _guidance : (double?)null,
                    Width = _size,
                    Height = _size,
                    Sampler = _samplerName.Length > 0 ? _samplerName : null,
                    Tiling = axes == "xy", // what a host older than tile axes reads
                    TileAxes = axes,
                    NoTileShift = axes != null && !_tileRoll,
                    Stages = StageSettings(),
                    PreviewSize = 64,
                    InitImage = initImage,
                    Mask = maskImage,
                    Strength = init && !mask && !_makeTileable ? _strength : (double?)null,
                    MakeTileable = init && _makeTileable,
                    VariationSeed = seeds.VariationSeed,
                    VariationStrength = seeds.VariationSeed.HasValue ? _variationStrength : 0,
                    Pbr = _pbr,
                    NormalConvention = _pbr ? "opengl" : null, // Unity's tangent space is OpenGL's, green up
                };
                if (style != null) // strength 0 would mean the host's default, so strength 0 sends no reference
                {
                    request.StyleImage = style;
                    request.StyleStrength = _styleStrength;
                }
                if (_usePaint)
                {
                    request.Scribble = scribble;
                    request.Legend = legend;
                }
                requests.Add(request);
            }
            return requests;
        }

        private void ShowProgress(BridgeProgress p, int index, int count)
        {
            if (!_busy) return; // a late step of a job already over
            float within = p.Steps > 0 ? (p.Step + 1f) / p.Steps : 0;
            _progress = (index + within) / count;
            string image = count > 1 ? $"image {index + 1}/{count}: " : "";
            _progressText = $"{image}{p.Stage} {p.Step + 1}/{p.Steps}  σ={p.Sigma:0.###}";
            if (_progressId >= 0 && EditorProgress.Exists(_progressId)) EditorProgress.Report(_progressId, _progress, _progressText);
            if (p.Preview == null) return;
            if (_preview != null) DestroyImmediate(_preview);
            _preview = null;
            _preview = TexturePixels.ToTexture(p.Preview.Rgba, p.Preview.Width, p.Preview.Height, mipmaps: false);
        }

        // The stage settings the window sends: only what the user changed, and only for the stages the host's model has
        // (its sizes: stage "sr256" draws 256); the host keeps the model's settings for the rest.
        private List<StageEntry>? StageSettings()
        {
            if (!_stageSettings) return null;
            var stages = new List<StageEntry>();
            foreach (var (name, steps) in new[] { ("sr256", _sr256Steps), ("sr1024", _sr1024Steps) })
                if ((steps > 0 || _srSigmaMax > 0) && Has(Capabilities.SizePrefix + name.Substring(Stages.SuperResolutionPrefix.Length)))
                    stages.Add(new StageEntry { Name = name, Steps = steps > 0 ? steps : (int?)null, SigmaMax = _srSigmaMax > 0 ? _srSigmaMax : (double?)null });
            return stages.Count > 0 ? stages : null;
        }
    }
}
