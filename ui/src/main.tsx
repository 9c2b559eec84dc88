import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Route, Routes } from "react-router-dom";
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { captureToken } from "./api";
import { WorkflowList } from "./WorkflowList";
import { Monitor } from "./Monitor";
import { Composer } from "./Composer";
import { Plugins } from "./Plugins";
import { Templates } from "./Templates";

captureToken();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter basename="/ui">
      <Routes>
        <Route path="/" element={<WorkflowList />} />
        <Route path="/workflows/:id" element={<Monitor />} />
        <Route path="/composer/:draftId" element={<Composer />} />
        <Route path="/plugins" element={<Plugins />} />
        <Route path="/templates" element={<Templates />} />
        <Route path="/templates/:name" element={<Templates />} />
        <Route path="*" element={<WorkflowList />} />
      </Routes>
    </BrowserRouter>
  </StrictMode>,
);
