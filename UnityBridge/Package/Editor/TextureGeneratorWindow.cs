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
using BridgeProgress = EDiffI.Bridge.Protocol.Progress;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// Window > EDiffI Texture Generator: prompt, seed, size, sampler, style reference and a
    /// paint-with-words canvas; generate and cancel with a progress bar and live preview; the result
    /// is saved as a PNG under Assets/ and imported as a Texture2D. The bridge client does the work;
    /// this class only draws and forwards. Its settings are serialized fields, so they survive script
    /// reloads; the connection is made again after a reload, and a job a reload cut short is reported
    /// as cancelled.
    /// </summary>
    public sealed class TextureGeneratorWindow : EditorWindow
    {
        private const string HostPathKey = "EDiffI.Bridge.HostPath";
        private static readonly string[] TransportNames = { "Unix socket", "TCP (loopback, token file)" };

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
        [SerializeField] private bool _tiling;
        [SerializeField] private Texture2D? _style;
        [SerializeField] private float _styleStrength = 1f;
        [SerializeField] private bool _usePaint;
        [SerializeField] private PaintCanvas _canvas = new PaintCanvas();
        // What was going on when a reload came: reconnect, and say what became of the job.
        [SerializeField] private bool _wasConnected;
        [SerializeField] private bool _jobRunning;

        private readonly ConcurrentQueue<Action> _mainThread = new ConcurrentQueue<Action>();
        private CancellationTokenSource? _lifetime;
        private CancellationTokenSource? _operation;
        private BridgeClient? _client;
        private readonly FarmSection _farm = new FarmSection(); // Generate goes to a farm instead of the host when it is on
        private BridgeClient? _connecting; // a client made on a worker thread, not yet taken by the main thread
        private string[] _samplers = Array.Empty<string>();
        private float _progress;
        private string _progressText = "";
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
            _canvas.ReleaseTexture();
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
            ConnectionSection();
            _farm.Draw(_busy);
            EditorGUILayout.LabelField("Texture");
            _prompt = EditorGUILayout.TextArea(_prompt, GUILayout.Height(48));
            GUILayout.BeginHorizontal();
            _randomSeed = EditorGUILayout.Toggle("Random seed", _randomSeed);
            if (!_randomSeed) _seed = EditorGUILayout.IntField("Seed", _seed);
            GUILayout.EndHorizontal();
            _size = EditorGUILayout.IntField("Size (0 = model's)", _size);
            _steps = EditorGUILayout.IntField("Steps (0 = model's)", _steps);
            _guidance = EditorGUILayout.FloatField("Guidance (0 = model's)", _guidance);
            if (_samplers.Length > 0)
            {
                int chosen = EditorGUILayout.Popup("Sampler", Math.Max(0, Array.IndexOf(_samplers, _samplerName)), _samplers);
                _samplerName = _samplers[chosen];
            }
            bool tilingAvailable = _client != null && _client.HasCapability(Capabilities.Tiling);
            _tiling = EditorGUILayout.Toggle(tilingAvailable ? "Tiling" : "Tiling (host lacks it)", _tiling);
            _style = (Texture2D?)EditorGUILayout.ObjectField("Style reference", _style, typeof(Texture2D), false);
            if (_style != null) _styleStrength = Math.Max(0f, EditorGUILayout.FloatField("Style strength", _styleStrength));
            _usePaint = EditorGUILayout.Toggle("Paint with words", _usePaint);
            if (_usePaint) _canvas.Draw();

            GUILayout.BeginHorizontal();
            GUI.enabled = !_busy && (_client != null || _farm.Enabled) && _prompt.Trim().Length > 0;
            if (GUILayout.Button("Generate")) _ = GenerateAsync();
            GUI.enabled = _busy;
            if (GUILayout.Button("Cancel")) CancelOperation();
            GUI.enabled = true;
            GUILayout.EndHorizontal();

            var bar = GUILayoutUtility.GetRect(100, 18);
            EditorGUI.ProgressBar(bar, _progress, _progressText);
            if (_preview != null) GUI.DrawTexture(GUILayoutUtility.GetRect(128, 128, GUILayout.Width(128)), _preview);
            if (_status.Length > 0) EditorGUILayout.HelpBox(_status, _statusType);
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
            _outputFolder = EditorGUILayout.TextField("Save textures in", _outputFolder);
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
            if (!_farm.Enabled && (client == null || !client.IsConnected))
            {
                DropClient();
                SetBusy(false, "Not connected: press Connect, or Start host if none is running.", MessageType.Warning);
                return;
            }
            GenerateRequest request;
            try
            {
                request = BuildRequest();
            }
            catch (Exception e) when (e is InvalidOperationException || e is ArgumentException)
            {
                SetBusy(false, e.Message, MessageType.Error);
                return;
            }
            _operation?.Dispose();
            var operation = _operation = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
            string outputFolder = _outputFolder;
            _jobRunning = true;
            _progress = 0;
            _progressText = "sending";
            SetBusy(true, "Generating…", MessageType.Info);
            try
            {
                var result = _farm.Enabled
                    ? await _farm.GenerateAsync(request, p => Post(() => ShowProgress(p)), s => Post(() => _progressText = s), operation.Token).ConfigureAwait(false)
                    : await client!.GenerateAsync(request, p => Post(() => ShowProgress(p)),
                    a => Post(() => _progressText = a.JobsAhead == 0 ? "starting" : $"queued behind {a.JobsAhead}"),
                    operation.Token).ConfigureAwait(false);
                Post(() =>
                {
                    _jobRunning = false;
                    SetBusy(false, "Saving…", MessageType.Info);
                    string path = TextureAssets.Save(result, outputFolder, request.Tiling);
                    _progress = 1;
                    _progressText = "done";
                    // Notes are what the host let pass but wants seen (scribble colours missing from the legend, resampling).
                    if (result.Notes == null) SetStatus($"Saved {path} (seed {result.Seed}).", MessageType.Info);
                    else SetStatus($"Saved {path} (seed {result.Seed}).\n" + string.Join("\n", result.Notes), MessageType.Warning);
                });
            }
            catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
            {
                // The window closed or scripts are reloading: _jobRunning stays set for OnEnable to report.
            }
            catch (OperationCanceledException)
            {
                Post(() => { _jobRunning = false; SetBusy(false, "Cancelled.", MessageType.Warning); });
            }
            catch (BridgeException e)
            {
                Post(() =>
                {
                    _jobRunning = false;
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
                Post(() => { _jobRunning = false; Fail("The generation failed", e); });
            }
        }

        private GenerateRequest BuildRequest()
        {
            if (_size < 0 || _steps < 0 || _guidance < 0) throw new InvalidOperationException("Size, steps and guidance are 0 (the model's) or more.");
            var request = new GenerateRequest
            {
                Prompt = _prompt.Trim(),
                Seed = _randomSeed ? (long?)null : _seed,
                Steps = _steps > 0 ? _steps : (int?)null,
                Guidance = _guidance > 0 ? _guidance : (double?)null,
                Width = _size,
                Height = _size,
                Sampler = _samplerName.Length > 0 ? _samplerName : null,
                Tiling = _tiling,
                PreviewSize = 64,
            };
            if (_style != null && _styleStrength > 0) // 0 would mean the host's default, so strength 0 sends no reference
            {
                request.StyleImage = TexturePixels.FromTexture(_style);
                request.StyleStrength = _styleStrength;
            }
            if (_usePaint)
            {
                request.Scribble = _canvas.Scribble();
                request.Legend = _canvas.Legend();
            }
            return request;
        }

        private void ShowProgress(BridgeProgress p)
        {
            if (!_busy) return; // a late step of a job already over
            _progress = p.Steps > 0 ? (p.Step + 1f) / p.Steps : 0;
            _progressText = $"{p.Stage} {p.Step + 1}/{p.Steps}  σ={p.Sigma:0.###}";
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
