#nullable enable
using System;
using System.Collections.Concurrent;
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
    /// <summary>
    /// Window > EDiffI Texture Generator: prompt, seed, size, sampler, tiling per axis, style reference,
    /// paint-with-words, init image and mask (from a texture asset or a canvas), variations, batches and
    /// PBR maps; generation runs as a background task (UnityEditor.Progress, cancellable there and here)
    /// and never blocks the editor. Each result is saved under the chosen Assets folder (prompt and seed
    /// in the names, imported by the importer rules) and waits in the gallery: keep makes a material for
    /// the active render pipeline in one undo step, discard moves the files to the trash. The bridge client
    /// does the work; this class only draws and forwards. Its settings and the gallery are serialized
    /// fields, so they survive script reloads; the connection is made again after a reload, and a job a
    /// reload cut short is reported as cancelled.
    /// </summary>
    public sealed class TextureGeneratorWindow : EditorWindow
    {
        private const string HostPathKey = "EDiffI.Bridge.HostPath";
        private static readonly string[] TransportNames = { "Unix socket", "TCP (loopback, token file)" };
        private static readonly string[] SourceNames = { "None", "Texture asset", "Paint canvas" };
        private const int NoSource = 0, TextureSource = 1, CanvasSource = 2;

        // Settings: serialized, so a script reload (any code edit, entering Play Mode) keeps them.
        [SerializeField] private string _hostPath = "";
        [SerializeField] private string _modelFolder = "";
        [SerializeField] private string _outputFolder = "Assets/EDiffI";
        [SerializeField] private int _transport = -1; // -1: not chosen yet, the platform's default
        [SerializeField] private string _socketPath = "";
        [SerializeField] private int _tcpPort = BridgeEndpoint.DefaultTcpPort;
        [SerializeField] private string _prompt = "";
        [SerializeField] private int _seed;
        [SerializeField] private bool _randomSeed = true;
        [SerializeField] private int _size;
        [SerializeField] private int _steps;
        [SerializeField] private float _guidance;
        [SerializeField] private string _samplerName = "";
        [SerializeField] private bool _tileX;
        [SerializeField] private bool _tileY;
        [SerializeField] private Texture2D? _style;
        [SerializeField] private float _styleStrength = 1f;
        [SerializeField] private bool _usePaint;
        [SerializeField] private PaintCanvas _canvas = new PaintCanvas();
        [SerializeField] private int _initSource;
        [SerializeField] private Texture2D? _initTexture;
        [SerializeField] private PaintCanvas _initCanvas = new PaintCanvas();
        [SerializeField] private float _strength = 0.6f;
        [SerializeField] private int _maskSource;
        [SerializeField] private Texture2D? _maskTexture;
        [SerializeField] private PaintCanvas _maskCanvas = PaintCanvas.Mask();
        [SerializeField] private bool _makeTileable;
        [SerializeField] private int _batchCount = 1;
        [SerializeField] private bool _variations;
        [SerializeField] private int _variationSeed;
        [SerializeField] private bool _randomVariationSeed = true;
        [SerializeField] private float _variationStrength = 0.3f;
        [SerializeField] private bool _pbr;
        [SerializeField] private bool _materialOnKeep = true;
        [SerializeField] private bool _assignToSelection;
        [SerializeField] private Gallery _gallery = new Gallery();
        [SerializeField] private Vector2 _scroll;
        // What was going on when a reload came: reconnect, and say what became of the job.
        [SerializeField] private bool _wasConnected;
        [SerializeField] private bool _jobRunning;

        private readonly ConcurrentQueue<Action> _mainThread = new ConcurrentQueue<Action>();
        private readonly System.Random _random = new System.Random();
        private CancellationTokenSource? _lifetime;
        private CancellationTokenSource? _operation;
        private BridgeClient? _client;
        private BridgeClient? _connecting; // a client made on a worker thread, not yet taken by the main thread
        private string[] _samplers = Array.Empty<string>();
        private float _progress;
        private string _progressText = "";
        private int _progressId = -1; // the background task of the running batch in Unity's Progress window; -1 when none
        private int _saveFailures; // results of the running batch that could not be saved
        private Texture2D? _preview;
        private string _status = "";
        private MessageType _statusType = MessageType.None;
        private bool _busy;
        private string _reloadNote = ""; // said again once the reconnect after a reload is over

        /// <summary>Opens the window.</summary>
        [MenuItem("Window/EDiffI Texture Generator")]
        public static void Open() => GetWindow<TextureGeneratorWindow>("EDiffI Textures");

        private BridgeTransport Transport => (BridgeTransport)_transport;

        private void OnEnable()
        {
            _lifetime = new CancellationTokenSource();
            EditorApplication.update += Pump;
            if (_transport < 0) _transport = (int)BridgeEndpoint.DefaultTransport;
            if (_hostPath.Length == 0) _hostPath = EditorPrefs.GetString(HostPathKey, "");
            if (_canvas == null) _canvas = new PaintCanvas();
            if (_initCanvas == null) _initCanvas = new PaintCanvas();
            if (_maskCanvas == null) _maskCanvas = PaintCanvas.Mask();
            if (_gallery == null) _gallery = new Gallery();
            // Results deleted by hand in the Project window leave the gallery.
            _gallery.Forget(path => File.Exists(TextureAssets.FullPath(path)));
            if (_jobRunning)
            {
                _jobRunning = false;
                _reloadNote = "A script reload interrupted the generation, so the host cancelled it. Press Generate to run it again.";
                SetStatus(_reloadNote, MessageType.Warning);
            }
            if (_wasConnected) _ = ConnectAsync(start: false, "Reconnecting after a script reload…");
        }

        // Runs before a script reload and when the window closes: nothing of ours may outlive it.
        private void OnDisable()
        {
            EditorApplication.update -= Pump;
            try
            {
                _operation?.Cancel();
                _lifetime?.Cancel();
            }
            catch (Exception e) // already over, or a cancellation callback failed: closing goes on regardless
            {
                if (!(e is ObjectDisposedException)) Debug.LogException(e);
            }
            DropClient();
            Interlocked.Exchange(ref _connecting, null)?.Dispose();
            FinishProgress(EditorProgress.Status.Canceled); // Unity cancels managed tasks on a reload too; closing the window must as well
            _canvas.ReleaseTexture();
            _initCanvas.ReleaseTexture();
            _maskCanvas.ReleaseTexture();
            if (_preview != null) DestroyImmediate(_preview);
            _preview = null;
        }

        // Work that arrived from the client's threads runs here, on the editor's main thread, each item
        // in its own try/catch: one failure is shown in the window and never breaks the editor's update loop.
        private void Pump()
        {
            bool any = false;
            while (_mainThread.TryDequeue(out var action))
            {
                any = true;
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    Fail("Something went wrong in the window", e);
                }
            }
            if (any) Repaint();
        }

        private void Post(Action action) => _mainThread.Enqueue(action);

        private void OnGUI()
        {
            _scroll = EditorGUILayout.BeginScrollView(_scroll);
            try
            {
                ConnectionSection();
                TextureSection();
                ImageSection();
                BatchSection();
                OutputSection();

                GUILayout.BeginHorizontal();
                GUI.enabled = !_busy && _client != null && _prompt.Trim().Length > 0;
                if (GUILayout.Button(_batchCount > 1 ? $"Generate {_batchCount}" : "Generate")) _ = GenerateAsync();
                GUI.enabled = _busy;
                if (GUILayout.Button("Cancel")) CancelOperation();
                GUI.enabled = true;
                GUILayout.EndHorizontal();

                var bar = GUILayoutUtility.GetRect(100, 18);
                EditorGUI.ProgressBar(bar, _progress, _progressText);
                if (_preview != null) GUI.DrawTexture(GUILayoutUtility.GetRect(128, 128, GUILayout.Width(128)), _preview);
                if (_status.Length > 0) EditorGUILayout.HelpBox(_status, _statusType);
                GallerySection();
            }
            finally
            {
                GUI.enabled = true;
                EditorGUILayout.EndScrollView();
            }
        }

        private bool Has(string capability) => _client != null && _client.HasCapability(capability);

        // The label of a setting the connected host lacks says so; the request is checked again before it is sent.
        private string Label(string label, string capability) => _client == null || Has(capability) ? label : label + " (host lacks it)";

        private void TextureSection()
        {
            EditorGUILayout.LabelField("Texture");
            _prompt = EditorGUILayout.TextArea(_prompt, GUILayout.Height(48));
            GUILayout.BeginHorizontal();
            _randomSeed = EditorGUILayout.Toggle("Random seed", _randomSeed);
            if (!_randomSeed) _seed = Math.Max(0, EditorGUILayout.IntField("Seed", _seed));
            GUILayout.EndHorizontal();
            _size = EditorGUILayout.IntField("Size (0 = model's)", _size);
            _steps = EditorGUILayout.IntField("Steps (0 = model's)", _steps);
            _guidance = EditorGUILayout.FloatField("Guidance (0 = model's)", _guidance);
            if (_samplers.Length > 0)
            {
                int chosen = EditorGUILayout.Popup("Sampler", Math.Max(0, Array.IndexOf(_samplers, _samplerName)), _samplers);
                _samplerName = _samplers[chosen];
            }
            GUILayout.BeginHorizontal();
            _tileX = EditorGUILayout.Toggle(Label("Tile along X", Capabilities.Tiling), _tileX);
            _tileY = EditorGUILayout.Toggle("Tile along Y", _tileY);
            GUILayout.EndHorizontal();
            _style = (Texture2D?)EditorGUILayout.ObjectField("Style reference", _style, typeof(Texture2D), false);
            if (_style != null) _styleStrength = Math.Max(0f, EditorGUILayout.FloatField("Style strength", _styleStrength));
            _usePaint = EditorGUILayout.Toggle(Label("Paint with words", Capabilities.PaintWithWords), _usePaint);
            if (_usePaint) _canvas.Draw();
        }

        private void ImageSection()
        {
            _initSource = EditorGUILayout.Popup(Label("Init image (img2img)", Capabilities.ImageToImage), Clamp(_initSource), SourceNames);
            if (_initSource == TextureSource) _initTexture = (Texture2D?)EditorGUILayout.ObjectField("Init texture", _initTexture, typeof(Texture2D), false);
            else if (_initSource == CanvasSource) _initCanvas.Draw(phrases: false);
            if (_initSource == NoSource) return;
            _strength = EditorGUILayout.Slider("Strength (0 keeps the init)", _strength, 0f, 1f);
            _maskSource = EditorGUILayout.Popup(Label("Mask (inpainting)", Capabilities.Inpainting), Clamp(_maskSource), SourceNames);
            if (_maskSource == TextureSource) _maskTexture = (Texture2D?)EditorGUILayout.ObjectField("Mask texture (white = redo)", _maskTexture, typeof(Texture2D), false);
            else if (_maskSource == CanvasSource) _maskCanvas.Draw(phrases: false, editableColours: false);
            _makeTileable = EditorGUILayout.Toggle(Label("Make the init tileable", Capabilities.MakeTileable), _makeTileable);
        }

        private void BatchSection()
        {
            _batchCount = Math.Max(1, Math.Min(BatchPlan.MaxCount, EditorGUILayout.IntField($"Images (1 to {BatchPlan.MaxCount})", _batchCount)));
            _variations = EditorGUILayout.Toggle(Label("Variations of one seed", Capabilities.Variations), _variations);
            if (!_variations) return;
            GUILayout.BeginHorizontal();
            _randomVariationSeed = EditorGUILayout.Toggle("Random variation seed", _randomVariationSeed);
            if (!_randomVariationSeed) _variationSeed = Math.Max(0, EditorGUILayout.IntField("Variation seed", _variationSeed));
            GUILayout.EndHorizontal();
            _variationStrength = EditorGUILayout.Slider("Variation strength", _variationStrength, 0f, 1f);
        }

        private void OutputSection()
        {
            _outputFolder = EditorGUILayout.TextField("Save in (under Assets)", _outputFolder);
            _pbr = EditorGUILayout.Toggle(Label("PBR maps", Capabilities.Pbr), _pbr);
            _materialOnKeep = EditorGUILayout.Toggle("Make a material on Keep", _materialOnKeep);
            if (_materialOnKeep) _assignToSelection = EditorGUILayout.Toggle("…and assign it to the selection", _assignToSelection);
        }

        private void GallerySection()
        {
            if (_gallery.Count == 0) return;
            EditorGUILayout.LabelField($"Gallery: {_gallery.Count} to keep or discard");
            GUILayout.BeginHorizontal();
            GUI.enabled = !_busy;
            if (GUILayout.Button("Keep all")) Post(() => { foreach (var e in _gallery.Entries.ToArray()) Keep(e); });
            if (GUILayout.Button("Discard all")) Post(() => { foreach (var e in _gallery.Entries.ToArray()) Discard(e); });
            GUI.enabled = true;
            GUILayout.EndHorizontal();
            foreach (var entry in _gallery.Entries.ToArray())
            {
                GUILayout.BeginHorizontal();
                var texture = AssetDatabase.LoadAssetAtPath<Texture2D>(entry.Files.Count > 0 ? entry.Files[0] : "");
                var thumbnail = GUILayoutUtility.GetRect(64, 64, GUILayout.Width(64), GUILayout.Height(64));
                if (texture != null) GUI.DrawTexture(thumbnail, texture, ScaleMode.ScaleToFit);
                EditorGUILayout.LabelField(entry.Caption + (entry.Pbr ? ", PBR" : "") + (entry.TileAxes.Length > 0 ? ", tiles " + entry.TileAxes : ""));
                // Decided in the update loop, not in the middle of drawing: assets change there.
                if (GUILayout.Button("Keep", GUILayout.Width(60))) Post(() => Keep(entry));
                if (GUILayout.Button("Discard", GUILayout.Width(60))) Post(() => Discard(entry));
                GUILayout.EndHorizontal();
            }
        }

        private static int Clamp(int source) => Math.Max(NoSource, Math.Min(CanvasSource, source));

        private void Keep(GalleryEntry entry)
        {
            int index = _gallery.Entries.IndexOf(entry);
            var taken = _gallery.Take(entry.Stem, entry.Folder);
            if (taken == null) return; // decided already
            if (!_materialOnKeep)
            {
                SetStatus($"Kept {taken.Folder}/{taken.Stem}.", MessageType.Info);
                return;
            }
            try
            {
                var (path, assigned) = TextureAssets.CreateMaterial(taken, TextureAssets.CurrentPipeline(), _assignToSelection);
                SetStatus($"Kept {taken.Stem}: material {path}" + (_assignToSelection ? $", assigned to {assigned} renderer(s)." : "."), MessageType.Info);
            }
            catch (Exception e) when (e is NotSupportedException || e is InvalidOperationException)
            {
                SetStatus($"Kept the textures of {taken.Stem}. {e.Message}", MessageType.Warning);
            }
            catch (Exception e) // a batch may be running: say it without ending the window's busy state
            {
                _gallery.PutBack(taken, index); // still there to try again
                Debug.LogException(e);
                SetStatus($"Making the material of {taken.Stem} failed: {e.Message} (details in the Console). It is still in the gallery.", MessageType.Error);
            }
        }

        private void Discard(GalleryEntry entry)
        {
            int index = _gallery.Entries.IndexOf(entry);
            var taken = _gallery.Take(entry.Stem, entry.Folder);
            if (taken == null) return;
            var failed = TextureAssets.Trash(taken);
            if (failed.Count == 0)
            {
                SetStatus($"Moved {taken.Stem} to the trash.", MessageType.Info);
                return;
            }
            _gallery.PutBack(taken, index);
            SetStatus("Could not move these to the trash (are they open elsewhere?): " + string.Join(", ", failed), MessageType.Error);
        }

        private void ConnectionSection()
        {
            string hostPath = EditorGUILayout.TextField("Host (EDiffI.Host or its folder)", _hostPath);
            if (hostPath != _hostPath)
            {
                _hostPath = hostPath;
                EditorPrefs.SetString(HostPathKey, hostPath); // a new window, in any project, starts from it
            }
            _modelFolder = EditorGUILayout.TextField("Model folder (optional)", _modelFolder);
            _transport = EditorGUILayout.Popup("Transport", Math.Max(0, Math.Min(1, _transport)), TransportNames);
            if (Transport == BridgeTransport.Tcp)
            {
                _tcpPort = EditorGUILayout.IntField("TCP port", _tcpPort);
                EditorGUILayout.LabelField("Token file", TokenPath());
            }
            else
            {
                _socketPath = EditorGUILayout.TextField("Socket (empty = default)", _socketPath);
                if (BridgeEndpoint.DefaultTransport == BridgeTransport.Tcp)
                    EditorGUILayout.HelpBox("The Unity editor on Windows cannot open Unix sockets: choose TCP.", MessageType.Warning);
            }
            bool leave = EditorGUILayout.Toggle("Leave started host running on quit", StartedHosts.LeaveRunning);
            if (leave != StartedHosts.LeaveRunning) StartedHosts.LeaveRunning = leave;

            GUILayout.BeginHorizontal();
            GUI.enabled = !_busy;
            if (GUILayout.Button(_client == null ? "Connect" : "Reconnect")) _ = ConnectAsync(start: false, "Connecting…");
            if (GUILayout.Button("Start host")) _ = ConnectAsync(start: true, "Starting the host (it loads its model first)…");
            GUI.enabled = !_busy && _client != null;
            if (GUILayout.Button("Disconnect"))
            {
                _wasConnected = false;
                DropClient();
                SetStatus("Disconnected.", MessageType.Info);
            }
            GUI.enabled = !_busy && StartedHosts.Count > 0;
            if (GUILayout.Button("Stop started host"))
            {
                _wasConnected = false;
                DropClient();
                SetStatus($"Stopped {StartedHosts.StopAll()} host process(es).", MessageType.Info);
            }
            GUI.enabled = true;
            GUILayout.EndHorizontal();
        }

        private void CancelOperation()
        {
            try
            {
                _operation?.Cancel();
            }
            catch (Exception e) // a cancellation callback failed, or the operation is over already
            {
                Fail("Cancelling failed", e);
            }
        }

        private string? SocketPathOrNull => _socketPath.Trim().Length == 0 ? null : _socketPath.Trim();

        private string TokenPath() => SocketPathOrNull is { } socket
            ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(socket)) ?? "", BridgeEndpoint.TokenFileName)
            : BridgeEndpoint.DefaultTokenPath();

        private HostLaunchOptions LaunchOptions()
        {
            if (Transport == BridgeTransport.Tcp && (_tcpPort <= 0 || _tcpPort > 65535))
                throw new BridgeException(ErrorCodes.InvalidRequest, $"The TCP port must be 1 to 65535 (it is {_tcpPort}); the host's default is {BridgeEndpoint.DefaultTcpPort}.");
            var options = new HostLaunchOptions
            {
                HostPath = _hostPath,
                Transport = Transport,
                TcpPort = _tcpPort,
                SocketPath = SocketPathOrNull,
            };
            if (_modelFolder.Trim().Length > 0) options.ModelFolder = _modelFolder.Trim();
            return options;
        }

        private async Task ConnectAsync(bool start, string doing)
        {
            var lifetime = _lifetime!.Token;
            BridgeClient? client = null;
            try
            {
                DropClient();
                _operation?.Dispose();
                var operation = _operation = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
                SetBusy(true, doing, MessageType.Info);
                var options = LaunchOptions();
                client = start
                    ? await HostLauncher.StartAsync(options, StartedHosts.Add, operation.Token).ConfigureAwait(false)
                    : await BridgeClient.ConnectAsync(options.Endpoint(), operation.Token).ConfigureAwait(false);
                var list = await client.ListAsync(operation.Token).ConfigureAwait(false);
                // Hand the client over: whoever takes it from _connecting first owns it (the main thread, or OnDisable).
                Interlocked.Exchange(ref _connecting, client)?.Dispose();
                client = null;
                if (lifetime.IsCancellationRequested) Interlocked.Exchange(ref _connecting, null)?.Dispose();
                Post(() => Connected(list));
            }
            catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
            {
                // The window closed or scripts are reloading; OnEnable reconnects after a reload.
            }
            catch (OperationCanceledException)
            {
                Post(() => { _wasConnected = false; SetBusy(false, start ? "Cancelled. A host process already started keeps running until you stop it." : "Cancelled.", MessageType.Warning); });
            }
            catch (BridgeException e)
            {
                Post(() => { _wasConnected = false; SetBusy(false, e.Message, MessageType.Error); });
            }
            catch (Exception e)
            {
                Post(() => { _wasConnected = false; Fail(start ? "Starting the host failed" : "Connecting failed", e); });
            }
            finally
            {
                client?.Dispose();
            }
        }

        private void Connected(ListReply list)
        {
            var client = Interlocked.Exchange(ref _connecting, null);
            if (client == null) return; // the window let go of it meanwhile
            _client = client;
            _wasConnected = true;
            _samplers = list.Samplers.ToArray();
            var model = client.Server.Model;
            if (Array.IndexOf(_samplers, _samplerName) < 0) _samplerName = model?.DefaultSampler ?? (_samplers.Length > 0 ? _samplers[0] : "");
            string connected = model == null ? "Connected." : $"Connected: {model.Name}, {model.Resolution}×{model.Resolution}.";
            if (_reloadNote.Length == 0) SetBusy(false, connected, MessageType.Info);
            else SetBusy(false, connected + "\n" + _reloadNote, MessageType.Warning);
            _reloadNote = "";
        }

        private void DropClient()
        {
            _client?.Dispose();
            _client = null;
        }

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
            if (client == null || !client.IsConnected)
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
                requests = BuildRequests(client);
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
                    var result = await client.GenerateAsync(request, p => Post(() => ShowProgress(p, at, requests.Count)),
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
                    if (!client.IsConnected)
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

        /// <summary>The requests of one press of Generate: a batch of seeds or of variation seeds, each with every setting of the window.</summary>
        private List<GenerateRequest> BuildRequests(BridgeClient client)
        {
            if (_size < 0 || _steps < 0 || _guidance < 0) throw new InvalidOperationException("Size, steps and guidance are 0 (the model's) or more.");
            void Need(bool used, string capability, string what)
            {
                if (used && !client.HasCapability(capability))
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

        private void Fail(string what, Exception e)
        {
            Debug.LogException(e);
            SetBusy(false, $"{what}: {e.Message} (details in the Console). Try again; if it keeps failing, reconnect or restart the host.", MessageType.Error);
        }

        private void SetBusy(bool busy, string status, MessageType type)
        {
            _busy = busy;
            // While reconnecting after a reload, keep saying what became of the interrupted job.
            if (busy && _reloadNote.Length > 0) status += "\n" + _reloadNote;
            else if (!busy && type == MessageType.Error && _reloadNote.Length > 0)
            {
                status += "\n" + _reloadNote;
                _reloadNote = "";
            }
            SetStatus(status, type);
        }

        private void SetStatus(string status, MessageType type)
        {
            _status = status;
            _statusType = type;
            Repaint();
        }
    }
}
