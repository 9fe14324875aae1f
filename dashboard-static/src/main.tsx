/** The dashboard: a single-page app over the public REST API and its change feed. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Layout } from './components/Layout.js';
import { BASE, parseRoute, type Route } from './logic/route.js';
import { startSession } from './session.js';
import { ClustersPage } from './pages/Clusters.js';
import { ClusterPage } from './pages/Cluster.js';
import { ManagedJobsPage } from './pages/ManagedJobs.js';
import { ManagedJobPage } from './pages/ManagedJob.js';
import { ServicesPage } from './pages/Services.js';
import { ServicePage } from './pages/Service.js';
import { RequestsPage } from './pages/Requests.js';
import { RequestPage } from './pages/Request.js';
import { InfraPage } from './pages/Infra.js';
import { UsersPage } from './pages/Users.js';
import { WorkspacesPage } from './pages/Workspaces.js';
import { AuditPage } from './pages/Audit.js';
import { LoginPage } from './pages/Login.js';
import { Page } from './components/Page.js';

function currentRoute(): Route {
  return parseRoute(location.pathname);
}

/** Links inside the app change the page without a reload (modified clicks and downloads excepted). */
function interceptLinks(onNavigate: () => void): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (a === null || a === undefined || a.hasAttribute('download') || (a.target !== '' && a.target !== '_self')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !(url.pathname === BASE || url.pathname.startsWith(`${BASE}/`))) return;
    e.preventDefault();
    if (url.pathname + url.search !== location.pathname + location.search) history.pushState(null, '', url.pathname + url.search + url.hash);
    onNavigate();
  });
}

function section(route: Route): string {
  switch (route.page) {
    case 'cluster':
      return 'clusters';
    case 'job':
      return 'jobs';
    case 'service':
      return 'services';
    case 'request':
      return 'requests';
    default:
      return route.page;
  }
}

function PageFor(props: { route: Route }) {
  const r = props.route;
  switch (r.page) {
    case 'clusters':
      return <ClustersPage />;
    case 'cluster':
      return <ClusterPage name={r.name} />;
    case 'jobs':
      return <ManagedJobsPage />;
    case 'job':
      return <ManagedJobPage id={r.id} />;
    case 'services':
      return <ServicesPage />;
    case 'service':
      return <ServicePage name={r.name} />;
    case 'requests':
      return <RequestsPage />;
    case 'request':
      return <RequestPage id={r.id} />;
    case 'infra':
      return <InfraPage />;
    case 'users':
      return <UsersPage />;
    case 'workspaces':
      return <WorkspacesPage />;
    case 'audit':
      return <AuditPage />;
    case 'login':
      return <LoginPage />;
    case 'notfound':
      return (
        <Page name="notfound" title="Not found" ready={false}>
          <p>
            There is no page at <code>{r.path}</code>. <a href={`${BASE}/clusters`}>Go to the clusters</a>.
          </p>
        </Page>
      );
  }
}

function App() {
  const [route, setRoute] = useState<Route>(currentRoute);
  useEffect(() => {
    const update = (): void => {
      setRoute(currentRoute());
      window.scrollTo(0, 0);
      // The new page's content takes the focus (as a page load would put it at the top).
      requestAnimationFrame(() => document.getElementById('main')?.focus({ preventScroll: true }));
    };
    interceptLinks(update);
    window.addEventListener('popstate', () => setRoute(currentRoute()));
  }, []);
  useEffect(() => {
    document.title = `${section(route)} · sky`;
  }, [route]);
  if (route.page === 'login') return <LoginPage />;
  return (
    <Layout section={section(route)}>
      <PageFor route={route} key={JSON.stringify(route)} />
    </Layout>
  );
}

startSession(currentRoute().page === 'login');
const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}
