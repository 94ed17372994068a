#nullable enable
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using UnityEditor;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// The host processes the window started in this editor session. They are remembered in
    /// <see cref="SessionState"/> (which survives script reloads, unlike the Process objects) and
    /// stopped when the editor quits, unless <see cref="LeaveRunning"/> is set.
    /// </summary>
    [InitializeOnLoad]
    public static class StartedHosts
    {
        private const string SessionKey = "EDiffI.Bridge.StartedHosts";
        private const string LeaveRunningKey = "EDiffI.Bridge.LeaveHostRunning";

        // Filled on the launcher's thread; moved into SessionState on the main thread, which alone may use it.
        private static readonly ConcurrentQueue<string> Pending = new ConcurrentQueue<string>();

        static StartedHosts()
        {
            EditorApplication.quitting += OnQuitting;
            EditorApplication.update += Flush;
        }

        /// <summary>Leave started hosts running when the editor quits (an editor preference).</summary>
        public static bool LeaveRunning
        {
            get => EditorPrefs.GetBool(LeaveRunningKey, false);
            set => EditorPrefs.SetBool(LeaveRunningKey, value);
        }

        /// <summary>How many started hosts are remembered.</summary>
        public static int Count
        {
            get
            {
                Flush();
                return Read().Count;
            }
        }

        /// <summary>Remembers a host process the window started; any thread (the launcher calls it on its own).</summary>
        public static void Add(Process process)
        {
            if (process == null) throw new ArgumentNullException(nameof(process));
            Pending.Enqueue(process.Id.ToString(CultureInfo.InvariantCulture) + "@" + StartTicks(process).ToString(CultureInfo.InvariantCulture));
        }

        /// <summary>Stops every remembered host that still runs; returns how many were stopped.</summary>
        public static int StopAll()
        {
            Flush();
            int stopped = 0;
            foreach (string entry in Read())
            {
                if (TryStop(entry)) stopped++;
            }
            Write(new List<string>());
            return stopped;
        }

        private static void OnQuitting()
        {
            if (!LeaveRunning) StopAll();
        }

        private static bool TryStop(string entry)
        {
            string[] parts = entry.Split('@');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int id)
                || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long ticks)) return false;
            try
            {
                using var process = Process.GetProcessById(id);
                // A process id is reused once its process is gone: only the one started then is stopped.
                if (ticks != 0 && StartTicks(process) != ticks) return false;
                if (process.HasExited) return false;
                process.Kill();
                return true;
            }
            catch (Exception e) when (e is ArgumentException || e is InvalidOperationException || e is System.ComponentModel.Win32Exception || e is NotSupportedException)
            {
                return false; // gone already, or not ours to stop
            }
        }

        private static long StartTicks(Process process)
        {
            try
            {
                return process.StartTime.ToUniversalTime().Ticks;
            }
            catch (Exception e) when (e is InvalidOperationException || e is System.ComponentModel.Win32Exception || e is NotSupportedException)
            {
                return 0; // unknown: the id alone decides
            }
        }

        private static void Flush()
        {
            if (Pending.IsEmpty) return;
            var entries = Read();
            while (Pending.TryDequeue(out string? entry)) entries.Add(entry);
            Write(entries);
        }

        private static List<string> Read()
        {
            var entries = new List<string>();
            foreach (string entry in SessionState.GetString(SessionKey, "").Split(';'))
                if (entry.Length > 0) entries.Add(entry);
            return entries;
        }

        private static void Write(List<string> entries) => SessionState.SetString(SessionKey, string.Join(";", entries));
    }
}
