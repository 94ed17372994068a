#nullable enable
using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;
// UnityEditor has a Progress of its own (the background-task bar, since 2020.1).
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
    public sealed partial class TextureGeneratorWindow : EditorWindow
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
        [SerializeField] private bool _tileRoll = true;
        [SerializeField] private bool _stageSettings;
        [SerializeField] private int _sr256Steps;
        [SerializeField] private int _sr1024Steps;
        [SerializeField] private float _srSigmaMax;
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
        private readonly FarmSection _farm = new FarmSection(); // Generate goes to a farm instead of the host when it is on
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
            _farm.Close();
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
                _farm.Draw(_busy);
                TextureSection();
                ImageSection();
                BatchSection();
                OutputSection();

                GUILayout.BeginHorizontal();
                GUI.enabled = !_busy && (_client != null || _farm.Enabled) && _prompt.Trim().Length > 0;
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
            // The roll moves the wrap edge to a new place at every step so no seam can settle there; off keeps it fixed.
            if (_tileX || _tileY) _tileRoll = EditorGUILayout.Toggle("Roll the wrap edge while drawing", _tileRoll);
            _stageSettings = EditorGUILayout.Toggle("Super-resolution stage settings", _stageSettings);
            if (_stageSettings)
            {
                _sr256Steps = Math.Max(0, EditorGUILayout.IntField("  sr256 steps (0 = model's)", _sr256Steps));
                _sr1024Steps = Math.Max(0, EditorGUILayout.IntField("  sr1024 steps (0 = model's)", _sr1024Steps));
                _srSigmaMax = Math.Max(0f, EditorGUILayout.FloatField("  Stage σ_max (0 = model's)", _srSigmaMax));
            }
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

        private static int Clamp(int source) => Math.Max(NoSource, Math.Min(CanvasSource, source));

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
