// The benchmark's routes reuse the example app's handlers (routes are looked up beside bench/endpoint.yaml).
export { home, receiveEvent, status } from "../../routes/example.tsx";
