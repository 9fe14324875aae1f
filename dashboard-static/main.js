// Placeholder dashboard: shows the API server's health through the REST API.
const target = document.getElementById('health');
try {
  const res = await fetch('/api/health', { headers: { 'x-sky-api-version': '1' } });
  const health = await res.json();
  target.textContent = `status: ${health.status}\nversion: ${health.version} (commit ${health.commit})\npid: ${health.pid}`;
} catch (err) {
  target.textContent = `cannot reach the API server: ${err}`;
}
