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

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// Window > EDiffI Texture Generator: prompt, seed, size, sampler, style reference and a
    /// paint-with-words canvas; generate and cancel with a progress bar and live preview; the result
    /// is saved as a PNG under Assets/ and imported as a Texture2D. The bridge client does the work;
    /// this class only draws and forwards.
    /// </summary>
    public sealed class TextureGeneratorWindow : EditorWindow
    {
        private const string HostPathKey = "EDiffI.Bridge.HostPath";
        private const string ModelKey = "EDiffI.Bridge.Model";
        private const string OutputKey = "EDiffI.Bridge.OutputFolder";

        private readonly ConcurrentQueue<Action> _mainThread = new ConcurrentQueue<Action>();
        private readonly PaintCanvas _canvas = new PaintCanvas(64);
        private BridgeClient? _client;
        private CancellationTokenSource? _generation;
        private string[] _samplers = Array.Empty<string>();
        private string _prompt = "";
        private int _seed;
        private bool _randomSeed = true;
        private int _size;
        private int _steps;
        private float _guidance;
        private int _sampler;
        private bool _tiling;
        private Texture2D? _style;
        private bool _usePaint;
        private float _styleStrength = 1f;
        private float _progress;
        private string _progressText = "";
        private Texture2D? _preview;
        private string _status = "";
        private MessageType _statusType = MessageType.None;
        private bool _busy;

        /// <summary>Opens the window.</summary>
        [MenuItem("Window/EDiffI Texture Generator")]
        public static void Open() => GetWindow<TextureGeneratorWindow>("EDiffI Textures");

        private void OnEnable() => EditorApplication.update += Pump;

        private void OnDisable()
        {
            EditorApplication.update -= Pump;
            _generation?.Cancel();
            _client?.Dispose();
            _client = null;
            _canvas.Dispose();
            if (_preview != null) DestroyImmediate(_preview);
        }

        // Work that arrived from the client's threads runs here, on the editor's main thread.
        private void Pump()
        {
            bool any = false;
            while (_mainThread.TryDequeue(out var action))
            {
                action();
                any = true;
            }
            if (any) Repaint();
        }

        private void OnGUI()
        {
            ConnectionSection();
            EditorGUILayout.LabelField("Texture");
            _prompt = EditorGUILayout.TextArea(_prompt, GUILayout.Height(48));
            GUILayout.BeginHorizontal();
            _randomSeed = EditorGUILayout.Toggle("Random seed", _randomSeed);
            if (!_randomSeed) _seed = EditorGUILayout.IntField("Seed", _seed);
            GUILayout.EndHorizontal();
            _size = EditorGUILayout.IntField("Size (0 = model's)", _size);
            _steps = EditorGUILayout.IntField("Steps (0 = model's)", _steps);
            _guidance = EditorGUILayout.FloatField("Guidance (0 = model's)", _guidance);
            if (_samplers.Length > 0) _sampler = EditorGUILayout.Popup("Sampler", _sampler, _samplers);
            bool tilingAvailable = _client != null && _client.HasCapability(Capabilities.Tiling);
            _tiling = EditorGUILayout.Toggle(tilingAvailable ? "Tiling" : "Tiling (host lacks it)", _tiling);
            _style = (Texture2D?)EditorGUILayout.ObjectField("Style reference", _style, typeof(Texture2D), false);
            if (_style != null) _styleStrength = Math.Max(0f, EditorGUILayout.FloatField("Style strength", _styleStrength));
            _usePaint = EditorGUILayout.Toggle("Paint with words", _usePaint);
            if (_usePaint) _canvas.Draw();

            GUILayout.BeginHorizontal();
            GUI.enabled = !_busy && _prompt.Trim().Length > 0;
            if (GUILayout.Button("Generate")) _ = GenerateAsync();
            GUI.enabled = _busy;
            if (GUILayout.Button("Cancel")) _generation?.Cancel();
            GUI.enabled = true;
            GUILayout.EndHorizontal();

            var bar = GUILayoutUtility.GetRect(100, 18);
            EditorGUI.ProgressBar(bar, _progress, _progressText);
            if (_preview != null) GUI.DrawTexture(GUILayoutUtility.GetRect(128, 128, GUILayout.Width(128)), _preview);
            if (_status.Length > 0) EditorGUILayout.HelpBox(_status, _statusType);
        }

        private void ConnectionSection()
        {
            string hostPath = EditorPrefs.GetString(HostPathKey, "");
            string newHostPath = EditorGUILayout.TextField("Host (EDiffI.Host.dll)", hostPath);
            if (newHostPath != hostPath) EditorPrefs.SetString(HostPathKey, newHostPath);
            string model = EditorPrefs.GetString(ModelKey, "");
            string newModel = EditorGUILayout.TextField("Model folder (optional)", model);
            if (newModel != model) EditorPrefs.SetString(ModelKey, newModel);
            string output = EditorPrefs.GetString(OutputKey, "Assets/EDiffI");
            string newOutput = EditorGUILayout.TextField("Save textures in", output);
            if (newOutput != output) EditorPrefs.SetString(OutputKey, newOutput);
            GUILayout.BeginHorizontal();
            GUI.enabled = !_busy;
            if (GUILayout.Button(_client == null ? "Connect" : "Reconnect")) _ = ConnectAsync(start: false);
            if (GUILayout.Button("Start host")) _ = ConnectAsync(start: true);
            GUI.enabled = true;
            GUILayout.EndHorizontal();
        }

        private async Task ConnectAsync(bool start)
        {
            SetBusy(true, start ? "Starting the host…" : "Connecting…", MessageType.Info);
            try
            {
                _client?.Dispose();
                _client = null;
                BridgeClient client;
                if (start)
                {
                    var options = new HostLaunchOptions { HostPath = EditorPrefs.GetString(HostPathKey, "") };
                    string model = EditorPrefs.GetString(ModelKey, "");
                    if (model.Length > 0) options.ModelFolder = model;
                    client = await HostLauncher.StartAsync(options).ConfigureAwait(false);
                }
                else client = await BridgeClient.ConnectAsync().ConfigureAwait(false);
                var list = await client.ListAsync().ConfigureAwait(false);
                _mainThread.Enqueue(() =>
                {
                    _client = client;
                    _samplers = list.Samplers.ToArray();
                    var model = client.Server.Model;
                    _sampler = model == null ? 0 : Math.Max(0, Array.IndexOf(_samplers, model.DefaultSampler));
                    SetBusy(false, model == null ? "Connected." : $"Connected: {model.Name}, {model.Resolution}×{model.Resolution}.", MessageType.Info);
                });
            }
            catch (BridgeException e)
            {
                _mainThread.Enqueue(() => SetBusy(false, e.Message, MessageType.Error));
            }
        }

        private async Task GenerateAsync()
        {
            var client = _client;
            if (client == null)
            {
                SetBusy(false, "Not connected: press Connect, or Start host if none is running.", MessageType.Warning);
                return;
            }
            GenerateRequest request;
            try
            {
                request = BuildRequest();
            }
            catch (InvalidOperationException e)
            {
                SetBusy(false, e.Message, MessageType.Error);
                return;
            }
            _generation = new CancellationTokenSource();
            SetBusy(true, "Generating…", MessageType.Info);
            _progress = 0;
            string outputFolder = EditorPrefs.GetString(OutputKey, "Assets/EDiffI");
            try
            {
                var result = await client.GenerateAsync(request, p => _mainThread.Enqueue(() => ShowProgress(p)),
                    a => _mainThread.Enqueue(() => _progressText = a.JobsAhead == 0 ? "starting" : $"queued behind {a.JobsAhead}"),
                    _generation.Token).ConfigureAwait(false);
                _mainThread.Enqueue(() =>
                {
                    string path = TextureAssets.Save(result, outputFolder, request.Tiling);
                    _progress = 1;
                    _progressText = "done";
                    // Notes are what the host let pass but wants seen (scribble colours missing from the legend, resampling).
                    if (result.Notes == null) SetBusy(false, $"Saved {path} (seed {result.Seed}).", MessageType.Info);
                    else SetBusy(false, $"Saved {path} (seed {result.Seed}).\n" + string.Join("\n", result.Notes), MessageType.Warning);
                });
            }
            catch (OperationCanceledException)
            {
                _mainThread.Enqueue(() => SetBusy(false, "Cancelled.", MessageType.Warning));
            }
            catch (BridgeException e)
            {
                _mainThread.Enqueue(() => SetBusy(false, e.Message, MessageType.Error));
            }
        }

        private GenerateRequest BuildRequest()
        {
            var request = new GenerateRequest
            {
                Prompt = _prompt.Trim(),
                Seed = _randomSeed ? (long?)null : _seed,
                Steps = _steps > 0 ? _steps : (int?)null,
                Guidance = _guidance > 0 ? _guidance : (double?)null,
                Width = _size,
                Height = _size,
                Sampler = _samplers.Length > 0 ? _samplers[_sampler] : null,
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

        private void ShowProgress(Progress p)
        {
            _progress = p.Steps > 0 ? (p.Step + 1f) / p.Steps : 0;
            _progressText = $"{p.Stage} {p.Step + 1}/{p.Steps}  σ={p.Sigma:0.###}";
            if (p.Preview == null) return;
            if (_preview != null) DestroyImmediate(_preview);
            _preview = TexturePixels.ToTexture(p.Preview.Rgba, p.Preview.Width, p.Preview.Height, mipmaps: false);
        }

        private void SetBusy(bool busy, string status, MessageType type)
        {
            _busy = busy;
            _status = status;
            _statusType = type;
            Repaint();
        }
    }

    /// <summary>Writes a result as a PNG under Assets/ and imports it as a Texture2D.</summary>
    public static class TextureAssets
    {
        /// <summary>Saves <paramref name="result"/>; returns the asset path.</summary>
        public static string Save(GenerateResult result, string folder, bool tiling)
        {
            if (!folder.StartsWith("Assets", StringComparison.Ordinal)) folder = "Assets/EDiffI";
            string full = Path.Combine(Path.GetDirectoryName(Application.dataPath) ?? "", folder);
            Directory.CreateDirectory(full);
            string name = Sanitize(result.Settings.Prompt) + "-" + result.Seed + ".png";
            string assetPath = folder.TrimEnd('/') + "/" + name;
            var texture = TexturePixels.ToTexture(result.Rgba, result.Width, result.Height, mipmaps: false);
            try
            {
                File.WriteAllBytes(Path.Combine(full, name), texture.EncodeToPNG());
            }
            finally
            {
                UnityEngine.Object.DestroyImmediate(texture);
            }
            ImageBuffers.Return(result.Rgba);
            AssetDatabase.ImportAsset(assetPath);
            if (AssetImporter.GetAtPath(assetPath) is TextureImporter importer)
            {
                importer.sRGBTexture = true;
                importer.mipmapEnabled = true;
                importer.wrapMode = tiling ? TextureWrapMode.Repeat : TextureWrapMode.Clamp;
                importer.SaveAndReimport();
            }
            return assetPath;
        }

        private static string Sanitize(string prompt)
        {
            var chars = new List<char>();
            foreach (char c in prompt)
            {
                if (chars.Count >= 40) break;
                chars.Add(char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-');
            }
            string name = new string(chars.ToArray()).Trim('-');
            return name.Length == 0 ? "texture" : name;
        }
    }
}
