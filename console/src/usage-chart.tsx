import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'react';
import type { UsageGroup } from './admin-api';

// Only what a bar chart needs, so that the rest of Chart.js stays out of the bundle.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

/** Prompt and completion tokens stacked, one bar per group (a UTC day or a model). */
export function UsageChart({ groups, label }: { groups: UsageGroup[]; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: groups.map((group) => group.key),
        datasets: [
          { label: 'Prompt tokens', data: groups.map((group) => group.promptTokens), backgroundColor: '#1f4e79' },
          { label: 'Completion tokens', data: groups.map((group) => group.completionTokens), backgroundColor: '#6fa8dc' },
        ],
      },
      options: {
        // Drawn at once: nothing moves on a page an operator reads (or a test screenshots).
        animation: false,
        maintainAspectRatio: false,
        datasets: { bar: { maxBarThickness: 64 } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'tokens' } } },
      },
    });
    return () => chart.destroy();
  }, [groups]);

  return (
    <div className="chart">
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
